"""The Stasis application: one flow per call, driven by ARI events."""
