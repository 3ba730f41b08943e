"""Organisations, users, their devices and recording policy."""
