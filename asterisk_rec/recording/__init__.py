"""Live recordings: their names and the parts of a call they cover."""
