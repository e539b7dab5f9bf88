"""The `oncall` section of fireline.yaml: schedules, roles, escalation policies, routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    field_validator,
    model_validator,
)

from fireline.domain.severity import Severity
from fireline.oncall.escalation import (
    DEFAULT_POLICY,
    NO_PAGING,
    Policy,
    Route,
    Target,
    TargetKind,
    Tier,
)
from fireline.oncall.schedule import Override, Rotation, Schedule, Window

# The names a section defines, seen by the validators of items that refer to them, so that an
# unknown name is reported at the line of the item (a check on the whole section could only
# point at `oncall:`).
_KNOWN: ContextVar[dict[str, frozenset[str]] | None] = ContextVar("oncall_names", default=None)

_DURATION = re.compile(r"^(\d+)([wdhm])$")
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
_WINDOW = re.compile(r"^(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$")


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value).strip())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"'{value}' is not a duration; write e.g. '7d', '12h' or '1w'")
    return int(match[1]) * _UNITS.get(match[2], timedelta(minutes=1))


def _wall_time(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 10:30 as the base-60 number 630 (and 10:30:00 as 37800).
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        seconds = value * 60 if value < 24 * 60 else value
        if seconds < 24 * 3600:
            return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone '{value}'; use an IANA name such as 'Europe/Paris'"
        raise ValueError(message) from None
    return value


def _window(value: str) -> str:
    match = _WINDOW.match(value.strip())
    if match is None:
        raise ValueError(f"'{value}' is not a daily window; write e.g. '09:00-17:00'")
    for part in match.groups():
        time.fromisoformat(part.zfill(5))  # raises ValueError for 25:00
    if match[1].zfill(5) == match[2].zfill(5):
        raise ValueError("a daily window must not start and end at the same time")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give the time zone of this time (e.g. 'Z' or '+01:00')")
    return value


def _known_target(text: str) -> str:
    target = Target.parse(text)
    known = _KNOWN.get()
    if known is not None and target.kind is not TargetKind.PERSON:
        names = known["schedule" if target.kind is TargetKind.SCHEDULE else "role"]
        if target.name not in names:
            listed = ", ".join(sorted(names)) or "none"
            raise ValueError(f"no {target.kind} named '{target.name}' (defined: {listed})")
    return text


def _known_policy(name: str) -> str:
    known = _KNOWN.get()
    if known is not None and name != NO_PAGING and name not in known["policy"]:
        listed = ", ".join(sorted(known["policy"]))
        raise ValueError(f"no policy named '{name}' (defined: {listed}, or '{NO_PAGING}')")
    return name


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
PersonName = Annotated[str, Field(min_length=1, max_length=200)]
AwareTime = Annotated[datetime, AfterValidator(_aware)]


class OverrideSettings(_Base):
    """Someone taking the schedule's shift from `start` to `end` (times with a zone)."""

    person: PersonName
    start: AwareTime
    end: AwareTime
    reason: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> OverrideSettings:
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")
        return self


class RotationSettings(_Base):
    """People taking turns: shifts of `shift` from `start`, handing over at `handoff`."""

    people: Annotated[list[PersonName], Field(min_length=1)]
    #: The day the first person's first shift begins (at the handoff time).
    start: date
    shift: Duration = timedelta(days=7)
    handoff: Annotated[time, BeforeValidator(_wall_time)] = time(9, 0)
    timezone: Annotated[str, AfterValidator(_zone)] = "UTC"
    #: Only these hours of each day, local time, e.g. "09:00-17:00" (follow-the-sun).
    hours: Annotated[str, AfterValidator(_window)] | None = None

    def rotation(self) -> Rotation:
        window = None
        if self.hours is not None:
            start, end = (time.fromisoformat(p.strip().zfill(5)) for p in self.hours.split("-"))
            window = Window(start, end)
        return Rotation(
            people=tuple(self.people),
            start=self.start,
            shift=self.shift,
            handoff=self.handoff,
            zone=ZoneInfo(self.timezone),
            window=window,
        )


class ScheduleSettings(_Base):
    """Rotations as layers (a later one wins where it covers), and overrides over them."""

    description: str | None = None
    rotations: Annotated[list[RotationSettings], Field(min_length=1)]
    overrides: list[OverrideSettings] = Field(default_factory=list)


class TierSettings(_Base):
    """One tier: from `start_min` to `end_min` minutes after paging began, page `targets`."""

    start_min: Annotated[int, Field(ge=0, le=7 * 24 * 60)]
    end_min: Annotated[int, Field(gt=0, le=7 * 24 * 60)]
    targets: Annotated[list[Annotated[str, AfterValidator(_known_target)]], Field(min_length=1)]

    @model_validator(mode="after")
    def _ordered(self) -> TierSettings:
        if self.end_min <= self.start_min:
            raise ValueError("end_min must be after start_min")
        return self


class PolicySettings(_Base):
    """Tiers in order; pages repeat every `repeat_every_min` (default: the section's)."""

    tiers: Annotated[list[TierSettings], Field(min_length=1)]
    repeat_every_min: Annotated[int, Field(ge=1, le=24 * 60)] | None = None

    @model_validator(mode="after")
    def _valid(self) -> PolicySettings:
        self.policy("-", timedelta(minutes=5))  # raises ValueError naming what is wrong
        return self

    def policy(self, name: str, repeat_every: timedelta) -> Policy:
        tiers = tuple(
            Tier(
                level,
                timedelta(minutes=t.start_min),
                timedelta(minutes=t.end_min),
                tuple(Target.parse(x) for x in t.targets),
            )
            for level, t in enumerate(self.tiers, start=1)
        )
        every = timedelta(minutes=self.repeat_every_min) if self.repeat_every_min else repeat_every
        return Policy(name, tiers, every)


class RouteSettings(_Base):
    """Incidents of these features (globs) and severities are paged by `policy`."""

    features: Annotated[list[str], Field(min_length=1)] = Field(default_factory=lambda: ["*"])
    severities: Annotated[list[Severity], Field(min_length=1)] = Field(
        default_factory=lambda: list(Severity)
    )
    policy: Annotated[str, AfterValidator(_known_policy)]


class PersonSettings(_Base):
    """How to reach someone; the notification channels read these."""

    email: str | None = None
    phone: str | None = None
    slack: str | None = None
    pagerduty: str | None = None


def _policy_settings(policy: Policy) -> PolicySettings:
    return PolicySettings(
        tiers=[
            TierSettings(
                start_min=int(t.start.total_seconds() // 60),
                end_min=int(t.end.total_seconds() // 60),
                targets=[str(x) for x in t.targets],
            )
            for t in policy.tiers
        ]
    )


# Built once at import, outside any file's validation: its targets need not be defined there
# (a target nobody is defined for is paged as "nobody", which the timeline shows).
_DEFAULT_POLICIES = {DEFAULT_POLICY.name: _policy_settings(DEFAULT_POLICY)}


class OnCallSettings(_Base):
    """Settings of this area; every one has a default, so no file is needed."""

    #: Page at all; off, incidents are still recorded but nobody is paged.
    enabled: bool = True
    schedules: dict[Name, ScheduleSettings] = Field(default_factory=dict)
    #: People holding each role that tiers page (`role:engineering-manager`).
    roles: dict[Name, list[PersonName]] = Field(default_factory=dict)
    people: dict[PersonName, PersonSettings] = Field(default_factory=dict)
    #: Escalation policies by name; `default` is built in unless redefined here.
    policies: dict[Name, PolicySettings] = Field(default_factory=lambda: dict(_DEFAULT_POLICIES))
    #: First match wins; an incident no route matches is paged by `default_policy`.
    routes: list[RouteSettings] = Field(default_factory=list)
    default_policy: Annotated[str, AfterValidator(_known_policy)] = DEFAULT_POLICY.name
    repeat_every_min: Annotated[int, Field(ge=1, le=24 * 60)] = 5
    #: How long a signed acknowledgement link stays valid after the page it came with.
    ack_link_ttl_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 24
    #: The public address of this server, for the links in pages (e.g. https://fireline.corp).
    public_url: str | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _with_known_names(
        cls, data: Any, handler: ModelWrapValidatorHandler[OnCallSettings]
    ) -> OnCallSettings:
        with _names_known(data):
            return handler(data)

    @field_validator("policies", mode="after")
    @classmethod
    def _keep_default(cls, value: dict[str, PolicySettings]) -> dict[str, PolicySettings]:
        return {**_DEFAULT_POLICIES, **value}

    @property
    def repeat_every(self) -> timedelta:
        return timedelta(minutes=self.repeat_every_min)

    @property
    def configured(self) -> bool:
        """Whether there is anyone to page: without schedules or roles, paging is off and
        incidents are only recorded (no timeline of pages to nobody)."""
        return self.enabled and bool(self.schedules or self.roles)

    def schedule_objects(self) -> dict[str, Schedule]:
        """The schedules as domain objects, by name."""
        return {
            name: Schedule(name, tuple(r.rotation() for r in s.rotations), s.description)
            for name, s in self.schedules.items()
        }

    def configured_overrides(self) -> list[Override]:
        """The overrides written in the file (those added through the API are stored)."""
        return [
            Override(schedule=name, person=o.person, start=o.start, end=o.end, reason=o.reason)
            for name, s in self.schedules.items()
            for o in s.overrides
        ]

    def policy_objects(self) -> dict[str, Policy]:
        return {name: p.policy(name, self.repeat_every) for name, p in self.policies.items()}

    def route_objects(self) -> list[Route]:
        return [Route(r.policy, tuple(r.features), frozenset(r.severities)) for r in self.routes]


@contextmanager
def _names_known(data: Any) -> Iterator[None]:
    """Make the names `data` defines visible to the validators of its items."""
    known = None
    if isinstance(data, dict):
        sections = {"schedule": "schedules", "role": "roles", "policy": "policies"}
        known = {kind: _keys(data.get(section)) for kind, section in sections.items()}
        known["policy"] |= {DEFAULT_POLICY.name}
    token = _KNOWN.set(known)
    try:
        yield
    finally:
        _KNOWN.reset(token)


def _keys(section: Any) -> frozenset[str]:
    return frozenset(str(name) for name in section) if isinstance(section, dict) else frozenset()
