"""townsquare: a fast, deterministic social-media simulator whose agents learn."""

__version__ = "0.1.0"
