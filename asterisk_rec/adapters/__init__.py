"""Connections to the outside world, each an async context manager with a health ``ping``."""
