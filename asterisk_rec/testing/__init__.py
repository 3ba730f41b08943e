"""Helpers for tests and benchmarks: audio analysis and ARI event waiting. Not used by the service."""
