"""Escalation policies: tiers with timeouts, whom each tier pages, which pages are due (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase

from fireline.domain.severity import Severity
from fireline.oncall.schedule import Override, Schedule

#: A route naming this policy means: do not page for these incidents.
NO_PAGING = "none"


class TargetKind(StrEnum):
    """What a tier pages: whoever a schedule has on call, everyone holding a role, or a person."""

    SCHEDULE = "schedule"
    ROLE = "role"
    PERSON = "person"


@dataclass(frozen=True, slots=True)
class Target:
    """One thing a tier pages, written `kind:name` (`schedule:primary`, `role:director`)."""

    kind: TargetKind
    name: str

    @classmethod
    def parse(cls, text: str) -> Target:
        """Read `kind:name`; raise ValueError saying what is expected.

        >>> Target.parse("role:director")
        Target(kind=<TargetKind.ROLE: 'role'>, name='director')
        """
        kind, sep, name = text.partition(":")
        kinds = ", ".join(f"'{k}:NAME'" for k in TargetKind)
        if not sep or kind not in TargetKind.__members__.values() or not name.strip():
            raise ValueError(f"'{text}' is not a target; write one of {kinds}")
        return cls(TargetKind(kind), name.strip())

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class Tier:
    """Level `level` of a policy: active from `start` to `end` after paging began."""

    level: int
    start: timedelta
    end: timedelta
    targets: tuple[Target, ...]

    def covers(self, elapsed: timedelta) -> bool:
        return self.start <= elapsed < self.end


@dataclass(frozen=True, slots=True)
class Policy:
    """Tiers in order of their start; pages repeat every `repeat_every` until acknowledged."""

    name: str
    tiers: tuple[Tier, ...]
    repeat_every: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("a policy needs at least one tier")
        if self.tiers[0].start != timedelta(0):
            raise ValueError("the first tier must start at minute 0")
        for tier in self.tiers:
            if tier.end <= tier.start:
                raise ValueError(f"tier {tier.level} must end after it starts")
        starts = [tier.start for tier in self.tiers]
        if starts != sorted(starts):
            raise ValueError("tiers must be listed in the order they start")
        if self.repeat_every <= timedelta(0):
            raise ValueError("the repeat interval must be positive")

    def active_tiers(self, elapsed: timedelta) -> tuple[Tier, ...]:
        """The tiers whose span holds `elapsed`; in a gap or after the last span, the last
        tier that started stays active, so paging never stops before an acknowledgement."""
        covering = tuple(tier for tier in self.tiers if tier.covers(elapsed))
        if covering:
            return covering
        started = [tier for tier in self.tiers if tier.start <= elapsed]
        return (started[-1],) if started else ()


def _tier(level: int, start: int, end: int, *targets: str) -> Tier:
    return Tier(
        level,
        timedelta(minutes=start),
        timedelta(minutes=end),
        tuple(Target.parse(t) for t in targets),
    )


#: Tier 1 the on-call engineer (0–15 min), tier 2 the engineering manager and senior
#: engineers (15–30), tier 3 the director and cross-functional leadership (30–60).
DEFAULT_POLICY = Policy(
    "default",
    (
        _tier(1, 0, 15, "schedule:primary"),
        _tier(2, 15, 30, "role:engineering-manager", "role:senior-engineer"),
        _tier(3, 30, 60, "role:director", "role:leadership"),
    ),
)


@dataclass(frozen=True, slots=True)
class Route:
    """Which policy pages for incidents of matching features (glob) and severities."""

    policy: str
    features: tuple[str, ...] = ("*",)
    severities: frozenset[Severity] = frozenset(Severity)

    def matches(self, feature: str, severity: Severity) -> bool:
        return severity in self.severities and any(fnmatchcase(feature, f) for f in self.features)


def choose_policy(routes: Sequence[Route], default: str, feature: str, severity: Severity) -> str:
    """The policy of the first route matching the incident, else `default`."""
    for route in routes:
        if route.matches(feature, severity):
            return route.policy
    return default


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom a target resolves to; `person` None when it resolves to nobody."""

    person: str | None
    target: Target

    @property
    def key(self) -> str:
        return self.person if self.person is not None else f"nobody:{self.target}"


def recipients(
    tier: Tier,
    at: datetime,
    *,
    schedules: Mapping[str, Schedule],
    overrides: Sequence[Override],
    roles: Mapping[str, Sequence[str]],
) -> list[Recipient]:
    """Whom `tier` pages at `at`, each person once (by the first target naming them)."""
    found: dict[str, Recipient] = {}
    for target in tier.targets:
        people: list[str] = []
        if target.kind is TargetKind.PERSON:
            people = [target.name]
        elif target.kind is TargetKind.ROLE:
            people = list(roles.get(target.name, ()))
        elif (schedule := schedules.get(target.name)) is not None:
            on_call = schedule.on_call(at, overrides)
            people = [] if on_call is None else [on_call.person]
        if not people:
            found.setdefault(f"nobody:{target}", Recipient(None, target))
        for person in people:
            found.setdefault(person, Recipient(person, target))
    return list(found.values())


@dataclass(frozen=True, slots=True)
class PageRecord:
    """A page as recorded so far: whom, first sent when, how many times."""

    tier: int
    key: str
    created_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class PageDue:
    """A page to send now: attempt 1 is a new page, higher attempts repeat it."""

    tier: int
    recipient: Recipient
    attempt: int


def due_pages(
    policy: Policy,
    *,
    started_at: datetime,
    now: datetime,
    recipients_by_tier: Mapping[int, Sequence[Recipient]],
    sent: Sequence[PageRecord],
) -> list[PageDue]:
    """The pages due at `now` for an unacknowledged escalation that began at `started_at`.

    A recipient of an active tier not paged yet gets attempt 1; one paged before gets
    attempt n + 1 once n repeat intervals have passed since the first attempt (counted
    from the first, so slow ticks do not stretch the interval). Nobody to page is recorded
    once and never repeated.
    """
    records = {(r.tier, r.key): r for r in sent}
    found: list[PageDue] = []
    for tier in policy.active_tiers(now - started_at):
        for recipient in recipients_by_tier.get(tier.level, ()):
            record = records.get((tier.level, recipient.key))
            if record is None:
                found.append(PageDue(tier.level, recipient, 1))
            elif (
                recipient.person is not None
                and now >= record.created_at + record.attempts * policy.repeat_every
            ):
                found.append(PageDue(tier.level, recipient, record.attempts + 1))
    return found
