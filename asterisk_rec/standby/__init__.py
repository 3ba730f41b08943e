"""A standby instance for each Asterisk node: a lease in PostgreSQL makes one instance active."""
