"""The rollback registry: versions of models, prompts and indexes, and which were known good.

Built from the change log and the feature's health over time, by pure functions. A version
is known good when it was live throughout a healthy stretch of at least
`min_healthy_minutes`; the last known good is the one whose good stretch ended latest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fireline.domain.telemetry import Change, ChangeKind

#: The kinds of change that put a version of something in front of users.
VERSIONED: tuple[ChangeKind, ...] = (ChangeKind.MODEL, ChangeKind.PROMPT, ChangeKind.INDEX)


@dataclass(frozen=True, slots=True)
class HealthWindow:
    """Whether a feature was healthy over [start, end) (say, no open incident, no alarm)."""

    feature: str
    start: datetime
    end: datetime
    healthy: bool


@dataclass(frozen=True, slots=True)
class Span:
    """A version live over [start, end); None: before the log began, or still live."""

    version: str
    start: datetime | None
    end: datetime | None
    introduced: int  # rank of the version's first appearance in the log: higher is newer


@dataclass(frozen=True, slots=True)
class VersionHistory:
    """One feature's versions of one kind, and when each was verified good."""

    feature: str
    kind: ChangeKind
    spans: tuple[Span, ...]
    #: Known-good versions and the end of their latest qualifying healthy stretch.
    good_until: Mapping[str, datetime]

    @property
    def current(self) -> str:
        return self.spans[-1].version

    @property
    def last_known_good(self) -> str | None:
        """The version verified good most recently (it may be the current one)."""
        return max(self.good_until, key=lambda v: self.good_until[v], default=None)


_Interval = tuple[datetime, datetime]


def version_spans(changes: Iterable[Change], feature: str, kind: ChangeKind) -> tuple[Span, ...]:
    """When each version of `kind` was live for `feature`, from its changes in time order."""
    ordered = sorted(
        (c for c in changes if c.feature == feature and c.kind is kind), key=lambda c: c.time
    )
    if not ordered:
        return ()
    first = ordered[0]
    rows: list[tuple[str, datetime | None]] = []
    if first.previous_version is not None and first.previous_version != first.version:
        rows.append((first.previous_version, None))
    rows += [(c.version, c.time) for c in ordered]
    rank: dict[str, int] = {}
    for version, _ in rows:
        rank.setdefault(version, len(rank))
    spans: list[Span] = []
    for i, (version, start) in enumerate(rows):
        end = rows[i + 1][1] if i + 1 < len(rows) else None
        if spans and spans[-1].version == version:  # a change that re-recorded the same version
            spans[-1] = Span(version, spans[-1].start, end, rank[version])
        else:
            spans.append(Span(version, start, end, rank[version]))
    return tuple(spans)


def healthy_stretches(windows: Iterable[HealthWindow], feature: str) -> list[_Interval]:
    """The feature's healthy time as disjoint intervals: healthy windows less unhealthy ones."""
    mine = [w for w in windows if w.feature == feature and w.end > w.start]
    good = _union((w.start, w.end) for w in mine if w.healthy)
    bad = _union((w.start, w.end) for w in mine if not w.healthy)
    out: list[_Interval] = []
    for start, end in good:
        for bad_start, bad_end in bad:
            if bad_end <= start or bad_start >= end:
                continue
            if bad_start > start:
                out.append((start, bad_start))
            start = max(start, bad_end)
            if start >= end:
                break
        if start < end:
            out.append((start, end))
    return out


def _union(intervals: Iterable[_Interval]) -> list[_Interval]:
    merged: list[_Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def good_until(
    spans: Sequence[Span], stretches: Sequence[_Interval], min_healthy: timedelta
) -> dict[str, datetime]:
    """Each version that was live throughout a long enough healthy stretch, and its latest end."""
    found: dict[str, datetime] = {}
    for span in spans:
        for start, end in stretches:
            lo = start if span.start is None else max(start, span.start)
            hi = end if span.end is None else min(end, span.end)
            if hi - lo >= min_healthy and (span.version not in found or hi > found[span.version]):
                found[span.version] = hi
    return found


@dataclass(frozen=True, slots=True)
class RollbackRegistry:
    """Every feature's version histories by kind; what to roll back or forward to.

    >>> from datetime import datetime, timedelta, UTC
    >>> t0, hour = datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1)
    >>> changes = [Change("c1", t0, ChangeKind.PROMPT, "v2", "bot", previous_version="v1"),
    ...            Change("c2", t0 + 3 * hour, ChangeKind.PROMPT, "v3", "bot")]
    >>> health = [HealthWindow("bot", t0 - hour, t0 + 3 * hour, True),
    ...           HealthWindow("bot", t0 + 3 * hour, t0 + 4 * hour, False)]
    >>> registry = build_registry(changes, health, min_healthy_minutes=30)
    >>> registry.current("bot", ChangeKind.PROMPT), registry.rollback_target("bot", "prompt")
    ('v3', 'v2')
    >>> registry.roll_forward_target("bot", "prompt", pinned="v2")
    'v3'
    """

    histories: Mapping[tuple[str, ChangeKind], VersionHistory]

    def history(self, feature: str, kind: ChangeKind | str) -> VersionHistory | None:
        return self.histories.get((feature, ChangeKind(kind)))

    def current(self, feature: str, kind: ChangeKind | str) -> str | None:
        """The version deployed now (None when the log never named one)."""
        found = self.history(feature, kind)
        return None if found is None else found.current

    def last_known_good(self, feature: str, kind: ChangeKind | str) -> str | None:
        found = self.history(feature, kind)
        return None if found is None else found.last_known_good

    def rollback_target(self, feature: str, kind: ChangeKind | str) -> str | None:
        """The newest known-good version other than the deployed one, or None."""
        found = self.history(feature, kind)
        if found is None:
            return None
        others = {v: t for v, t in found.good_until.items() if v != found.current}
        return max(others, key=lambda v: others[v], default=None)

    def roll_forward_target(
        self, feature: str, kind: ChangeKind | str, *, pinned: str | None = None
    ) -> str | None:
        """Where to go back to after a rollback, or None when already on the newest version.

        With a guard pinning `pinned`, rolling forward lifts the pin: the deployed version.
        Without one, a rollback was deployed as a change: the newest version introduced
        after the deployed one.
        """
        found = self.history(feature, kind)
        if found is None:
            return None
        if pinned is not None and pinned != found.current:
            return found.current
        current = found.spans[-1].introduced
        newer = [s for s in found.spans if s.introduced > current]
        return max(newer, key=lambda s: s.introduced).version if newer else None


def build_registry(
    changes: Iterable[Change],
    windows: Iterable[HealthWindow],
    *,
    min_healthy_minutes: float = 30,
    now: datetime | None = None,
) -> RollbackRegistry:
    """The registry of every feature and versioned kind the change log names.

    Changes after `now` are not yet live and are left out; changes that name no feature
    belong to no one version history and are left out too.
    """
    kept = [c for c in changes if c.feature is not None and (now is None or c.time <= now)]
    health = list(windows)
    min_healthy = timedelta(minutes=min_healthy_minutes)
    histories: dict[tuple[str, ChangeKind], VersionHistory] = {}
    stretches: dict[str, list[_Interval]] = {}
    for feature, kind in sorted({(c.feature, c.kind) for c in kept if c.kind in VERSIONED}):
        assert feature is not None
        spans = version_spans(kept, feature, kind)
        if feature not in stretches:
            stretches[feature] = healthy_stretches(health, feature)
        good = good_until(spans, stretches[feature], min_healthy)
        histories[feature, kind] = VersionHistory(feature, kind, spans, good)
    return RollbackRegistry(histories)
