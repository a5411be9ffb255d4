"""Loaders: one module per source; each checks its file and loads it all or nothing."""
