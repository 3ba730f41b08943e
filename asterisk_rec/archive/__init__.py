"""The archive: recordings fetched from Asterisk, stored once per organisation and day, hashed, never
rewritten."""
