"""Static evidence-browser generator: load → validate → model → render → write → index."""

__version__ = "0.1.0"
