"""fastmock: a tiny, very fast HTTP server that pretends to be a large language model."""

__version__ = "0.1.0"
