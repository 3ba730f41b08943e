"""The service's PostgreSQL schema, kept as ordered SQL migrations."""
