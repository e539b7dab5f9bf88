"""The contract every content scanner follows: `scan(call)` returns the call's hits.

A scanner reads one call (its input and output text, retrieved and cited documents, tenant,
finish reason, attributes) and reports what it finds in it: personal data, a canary token,
an injection attempt, a hallucinated citation. Scanners never raise on odd content and never
keep the matched text itself in a hit (a hit names the kind and where it is), so hits can be
stored, listed and counted without copying secrets around.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Protocol

from fireline.domain.telemetry import Call


class Part(StrEnum):
    """Which part of a call a hit was found in."""

    INPUT = "input"
    OUTPUT = "output"
    RETRIEVED = "retrieved"
    CITED = "cited"
    CALL = "call"  # the call as a whole: a refusal, an empty answer, a judge's verdict


@dataclass(frozen=True, slots=True)
class Hit:
    """One finding in one call: which scanner, what kind, where, how sure.

    `start`/`end` are character offsets into the text of `part` (None for hits that are not
    a span of text: a document id, a refusal). `detail` says which item without quoting it:
    a document id, a canary's owner, a claim's name, never the personal data itself.
    `score` is the scanner's confidence in [0, 1] (1 for exact rules).
    """

    scanner: str
    kind: str
    part: Part
    start: int | None = None
    end: int | None = None
    score: float = 1.0
    detail: str = ""


class Scanner(Protocol):
    """A small class that finds one family of problems in a call.

    `name` is how configuration and hits refer to it; `kinds` are the kinds of hit it can
    report; `parts` the parts of a call it reads. Settings are constructor arguments stored
    under their own names, each with a default, so `Scanner()` works with no configuration.
    `example()` returns a call the scanner must find something in, for the contract test and
    for the documentation: a scanner built with no arguments must find it, unless the class
    also has a classmethod `example_scanner()` that returns one configured for it (a tenant
    leak needs to know the tenants' documents).
    """

    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    parts: ClassVar[frozenset[Part]]

    def scan(self, call: Call) -> list[Hit]: ...

    @classmethod
    def example(cls) -> Call: ...
