"""The `status` section of fireline.yaml: the public page, its components, regulatory clocks."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fireline.status.regulatory import DEFAULT_REGIMES, Regime, parse_reminder_point

_Name = Annotated[str, Field(min_length=1, max_length=200)]
_Days = Annotated[int, Field(ge=1, le=3650)]
_Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PageSettings(_Section):
    """What the public page says about itself (the `page` object of summary.json)."""

    #: An opaque identifier, as Statuspage gives every page one.
    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = "fireline"
    name: _Name = "Service status"
    #: Where the public page is reached; incident short links point into it.
    url: Annotated[str, Field(min_length=1, max_length=500)] = "http://127.0.0.1:8000/status"
    #: IANA time zone in which the HTML page shows times (summary.json stays ISO 8601).
    time_zone: str = "Etc/UTC"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (use an IANA name)") from None
        return value


class Component(_Section):
    """A feature shown on the page, with the name and description the public sees."""

    feature: Annotated[str, Field(min_length=1, max_length=128)]
    name: _Name | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None


class RegimeSettings(_Section):
    """An override of a built-in regime's days, or a regime of the deployment's own."""

    title: _Name | None = None
    days: _Days | None = None
    #: Variant name → days, replacing or adding to the built-in ones.
    variants: dict[_Key, _Days] = Field(default_factory=dict)
    authority: _Name | None = None


class Regulatory(_Section):
    """Regulatory clocks: regimes, the generic data-breach days, reminder points."""

    #: Overrides by regime name (eu_ai_act, hipaa, data_breach) or new regimes.
    regimes: dict[_Key, RegimeSettings] = Field(default_factory=dict)
    #: Days of the generic data-breach regime: it has no deadline until this is set.
    data_breach_days: _Days | None = None
    #: When to remind: "50%" of the period elapsed, "1d" / "12h" before the deadline,
    #: "overdue" at the deadline.
    reminders: list[str] = Field(default_factory=lambda: ["50%", "80%", "1d", "overdue"])

    @field_validator("reminders")
    @classmethod
    def _valid_points(cls, value: list[str]) -> list[str]:
        for point in value:
            parse_reminder_point(point)  # raises ValueError naming the point
        return value


class StatusSettings(_Section):
    """Settings of this area; every one has a default, so no file is needed."""

    page: PageSettings = Field(default_factory=PageSettings)
    #: The features shown as components, in this order; unset: every feature fireline has
    #: seen (detection, incidents, guards), by name.
    components: list[Component] | None = None
    regulatory: Regulatory = Field(default_factory=Regulatory)


def regimes_in_force(settings: Regulatory) -> dict[str, Regime]:
    """The built-in regimes with the deployment's overrides and additions applied."""
    found = dict(DEFAULT_REGIMES)
    breach = found["data_breach"]
    found["data_breach"] = replace(breach, days=settings.data_breach_days)
    for name, override in settings.regimes.items():
        base = found.get(name) or Regime(name=name, title=name, days=None)
        found[name] = replace(
            base,
            title=override.title or base.title,
            days=override.days if override.days is not None else base.days,
            variants={**base.variants, **override.variants},
            authority=override.authority or base.authority,
        )
    return found
