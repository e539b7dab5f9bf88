"""The `scanners` section of fireline.yaml: which scanners run, on which calls, with what."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Scanning(BaseModel):
    """Content scanning for the whole deployment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: "ingest": every call is scanned soon after it is stored (a background worker in
    #: `fireline serve`, and every tick); "sampled": only `sample_rate` of the calls, at ticks.
    mode: Literal["ingest", "sampled"] = "ingest"
    #: The share of calls scanned in "sampled" mode (the same calls whenever asked).
    sample_rate: Annotated[float, Field(gt=0, le=1)] = 0.1
    #: Scanners by name; unset: every scanner that needs no configuration (not `judge`).
    enabled: tuple[str, ...] | None = None
    #: Settings by scanner name: {pii: {scan_input: true}, grounding: {max_age_days: 365}}.
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: On a store that already holds calls, the first round scans those of this much event
    #: time before now; after that every call stored is scanned, however late it arrives.
    horizon_s: Annotated[int, Field(ge=60, le=30 * 86_400)] = 86_400
    #: Seconds between the background worker's rounds in "ingest" mode.
    interval_s: Annotated[float, Field(gt=0, le=3_600)] = 1.0

    @field_validator("enabled")
    @classmethod
    def _known_scanners(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for name in value or ():
            _check_known(name)
        return value

    @field_validator("settings")
    @classmethod
    def _scanners_build(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from fireline.scan.registry import build_scanner

        for name, settings in value.items():
            _check_known(name)
            build_scanner(name, settings, environ={})
        return value

    @property
    def rate(self) -> float:
        """The share of calls scanned."""
        return 1.0 if self.mode == "ingest" else self.sample_rate

    def scanner_names(self) -> tuple[str, ...]:
        from fireline.scan.registry import default_scanners

        return self.enabled if self.enabled is not None else default_scanners()


def _check_known(name: str) -> None:
    from fireline.scan.registry import scanner_classes

    known = scanner_classes()
    if name not in known:
        raise ValueError(f"unknown scanner {name!r}: known are {', '.join(sorted(known))}")
