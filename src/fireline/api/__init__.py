"""The HTTP API: thin routes that parse, call a service and serialize."""

from fireline.api.app import create_app

__all__ = ["create_app"]
