"""Commands of the notify area."""

from __future__ import annotations
