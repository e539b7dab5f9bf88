"""fireline: incident response for production AI features."""

__version__ = "0.1.0"
