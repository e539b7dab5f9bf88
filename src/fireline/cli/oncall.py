"""Commands of the oncall area."""

from __future__ import annotations
