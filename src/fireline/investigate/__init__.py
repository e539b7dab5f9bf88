"""Investigation: when the behaviour changed (onset), which change is to blame (suspects),
what the affected calls have in common (segments) and how far the harm reaches (blast radius).

The modules are pure functions over numbers and rows, except `reader` (the telemetry store's
queries) and `service` (which reads both stores and weighs what it read).
"""

from __future__ import annotations

from fireline.investigate.export import COLUMNS, FORMATS, Format, lines
from fireline.investigate.report import BlastRadius, Investigation, Onset
from fireline.investigate.service import Investigator, investigator_for

__all__ = [
    "COLUMNS",
    "FORMATS",
    "BlastRadius",
    "Format",
    "Investigation",
    "Investigator",
    "Onset",
    "investigator_for",
    "lines",
]
