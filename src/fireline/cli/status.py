"""Commands of the status area."""

from __future__ import annotations
