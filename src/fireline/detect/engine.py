"""The detection engine: every closed bucket of event time, through every watched series.

A series is one signal of one feature, for the whole feature or one segment (model version,
tenant, ...). Each tick reads only the buckets that closed since the last one, aggregated in
the telemetry store, and feeds them to the series' detectors; detector states are kept per
feature in the state store, in the caller's transaction, so a restart neither loses nor
re-fires an alert.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from fireline.contain.breaker import Observation
from fireline.detect.base import Detector, SignalKind, Window
from fireline.detect.catalog import ERROR_TYPE_RATE, Signal, signal_named
from fireline.detect.config import Detection
from fireline.detect.registry import detector_class, detector_classes
from fireline.detect.signals import WHOLE, Series, SeriesKey, SignalReader
from fireline.domain.alert import Alert, DetectionEvent, Level, Recovery
from fireline.domain.guard import ContainmentLevel
from fireline.store.state import StateTx
from fireline.store.telemetry import TelemetryStore

_WATERMARK = "detect/watermark"
_FEATURE_PREFIX = "detect/feature/"
#: Kinds whose empty buckets mean something (no calls, no errors) and are fed as such.
_TIMED = frozenset({SignalKind.RATE, SignalKind.MEAN, SignalKind.COUNT, SignalKind.LEVEL})
_TEXT_SAMPLES = 20


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one tick saw, in event-time order, and how far event time got."""

    watermark: datetime | None
    buckets: int = 0
    events: list[DetectionEvent] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)
    series: int = 0
    #: Each feature's closed buckets of this tick, whole-feature totals in event-time order
    #: (empty buckets included): what circuit breakers judge.
    observations: dict[str, list[Observation]] = field(default_factory=dict)

    @property
    def alerts(self) -> list[Alert]:
        return [event for event in self.events if isinstance(event, Alert)]

    @property
    def recoveries(self) -> list[Recovery]:
        return [event for event in self.events if isinstance(event, Recovery)]


@dataclass(slots=True)
class _Watch:
    """One detector on one series, and the last bucket that series had data."""

    key: SeriesKey
    signal: Signal
    detector: Detector
    seen: float

    @property
    def state_key(self) -> str:
        return f"{self.key.signal}|{self.key.segment}|{self.detector.name}"


class DetectionEngine:
    """Runs the configured detectors over every series, one closed bucket at a time.

    A bucket [t, t + bucket_s) is evaluated once `now - lateness_s` has passed its end, so calls
    that arrive up to `lateness_s` late still count. A feature seen for the first time is warmed
    up on up to `warmup_s` of the history already stored for it.
    """

    def __init__(
        self,
        telemetry: TelemetryStore,
        *,
        settings: Detection | None = None,
        lateness_s: int = 0,
        scanners: Iterable[str] = (),
        scan_rate: float = 1.0,
    ) -> None:
        self.settings = settings or Detection()
        self.lateness_s = lateness_s
        self.bucket_s = self.settings.bucket_s
        # `scanners`: content scanners whose hit rates are watched (their tables must exist),
        # over the share `scan_rate` of calls they scan.
        self._reader = SignalReader(telemetry, self.settings, scanners, scan_rate)
        # Settings never change under a running engine; merging them is not free and every
        # watch asks at every tick.
        self._settings_for = cache(self.settings.settings_for)

    # -- ticking ---------------------------------------------------------------------------

    def tick(self, now: datetime, tx: StateTx) -> TickResult:
        """Evaluate every bucket that closed since the last tick, up to `now - lateness_s`."""
        watermark = self.watermark(tx)
        end = self._bucket_floor(now - timedelta(seconds=self.lateness_s))
        if watermark is not None:
            end = max(end, watermark)  # event time never runs backwards
        horizon = end - timedelta(seconds=self.settings.warmup_s)
        # A gap longer than the warm-up is not replayed.
        start = max(watermark, horizon) if watermark is not None else horizon
        watches = self._load(tx)
        # Features are looked for over the whole warm-up horizon, not only the new buckets,
        # and at every tick: an app that starts by sending its recent past (all of it older
        # than the watermark) is found at once, and judged against that past.
        new = sorted(set(self._reader.features(horizon, end)) - set(watches))
        if start >= end and not new:
            return TickResult(watermark=end)
        text = self._text_wanted()
        series = self._reader.read(start, end, text_samples=text) if start < end else {}
        if new and horizon < start:
            history = self._reader.read(horizon, start, text_samples=text)
            for key, windows in history.items():
                if key.feature in new:
                    series[key] = {**windows, **series.get(key, {})}
        self._watch_new_series(series, watches, start)
        # A new feature is judged from its first call on, not from an empty past.
        firsts: dict[str, datetime] = {}
        for key, windows in series.items():
            if key.feature in new and windows:
                firsts[key.feature] = min(firsts.get(key.feature, end), min(windows))

        events: list[DetectionEvent] = []
        levels: list[Level] = []
        for feature, feature_watches in watches.items():
            still_open = {
                (a.detector, a.signal, tuple(sorted(a.segment.items())))
                for a in tx.open_alerts(feature)
            }
            # With the feature switched off, its traffic falls because fireline said so.
            switched_off = tx.get_guard(feature).level >= ContainmentLevel.FEATURE_DISABLED
            # Error rates per type are fed after the overall error rate, and skip the buckets
            # in which it is alarmed for the same segment: that alarm already tells, with its
            # error types.
            failing: dict[str, set[datetime]] = defaultdict(set)
            for watch in sorted(feature_watches.values(), key=_per_type_last):
                if switched_off and watch.key.signal == "volume":
                    continue
                opened = (
                    watch.detector.name,
                    watch.key.signal,
                    tuple(sorted(watch.key.segment_dict.items())),
                )
                if watch.detector.drift_detected and opened not in still_open:
                    watch.detector.clear()  # a person resolved the incident; judge afresh
                first = firsts.get(feature, start) if feature in new else start
                volume = series.get(SeriesKey(feature, "volume", watch.key.segment), {})
                windows = series.get(watch.key, {})
                per_type = watch.key.signal.startswith(ERROR_TYPE_RATE)
                skip = failing[watch.key.segment] if per_type else set()
                alarmed = failing[watch.key.segment] if watch.key.signal == "error_rate" else None
                events.extend(self._feed(watch, windows, first, end, volume, skip, alarmed))
                level = watch.detector.level if watch.detector.drift_detected else None
                if level is not None:
                    value = watch.signal.natural(level)
                    assert value is not None
                    levels.append(
                        Level(
                            watch.detector.name,
                            feature,
                            watch.key.signal,
                            end,
                            value,
                            watch.key.segment_dict,
                        )
                    )
        self._save(tx, watches, end, now)
        tx.save_state(_WATERMARK, end.isoformat(), now=now)
        # At one instant: the whole feature before its segments, so an incident opens on the
        # broadest evidence and the segments join it.
        events.sort(key=lambda e: (e.at, e.feature, bool(e.segment), e.signal or "", e.detector))
        buckets = int((end - start) / timedelta(seconds=self.bucket_s))
        count = sum(len(w) for w in watches.values())
        observations = {
            feature: self._observations(series, feature, start, end) for feature in watches
        }
        return TickResult(end, buckets, events, levels, count, observations)

    def _observations(
        self, series: Series, feature: str, start: datetime, end: datetime
    ) -> list[Observation]:
        def total(signal: str, at: datetime) -> Window | None:
            return series.get(SeriesKey(feature, signal), {}).get(at)

        found: list[Observation] = []
        at = start
        step = timedelta(seconds=self.bucket_s)
        while at < end:
            volume, errors = total("volume", at), total("error_rate", at)
            cost, p99 = total("cost_per_hour", at), total("latency_p99", at)
            found.append(
                Observation(
                    start=at,
                    end=at + step,
                    calls=int(volume.total) if volume else 0,
                    errors=int(errors.total) if errors else 0,
                    cost_usd=cost.total * self.bucket_s / 3_600 if cost else 0.0,
                    latency_p99_ms=p99.total if p99 else None,
                )
            )
            at += step
        return found

    def _feed(
        self,
        watch: _Watch,
        windows: dict[datetime, Window],
        start: datetime,
        end: datetime,
        volume: dict[datetime, Window],
        skip: set[datetime],
        alarmed: set[datetime] | None,
    ) -> list[DetectionEvent]:
        """Feed one watch every bucket in [start, end), except those in `skip`; note in
        `alarmed` the buckets after which its detector was alarmed."""
        events: list[DetectionEvent] = []
        detector, step = watch.detector, timedelta(seconds=self.bucket_s)
        timed = watch.signal.kind in _TIMED
        bucket = start
        while bucket < end:
            if bucket in skip:
                bucket += step
                continue
            window = windows.get(bucket)
            if window is None and watch.signal.of_all_calls and bucket in volume:
                # The bucket had calls and none of them hit.
                window = Window(bucket, bucket + step, n=int(volume[bucket].total))
            elif window is None and timed:
                window = Window(bucket, bucket + step)
            if window is not None:
                if window.n:
                    watch.seen = max(watch.seen, window.end.timestamp())
                was_alarmed = detector.drift_detected
                detector.update(window)
                if detector.drift_detected and not was_alarmed:
                    events.append(self._alert(watch, window.end))
                elif was_alarmed and not detector.drift_detected:
                    events.append(self._recovery(watch, window.end))
            if alarmed is not None and detector.drift_detected:
                alarmed.add(bucket)
            bucket += step
        return events

    # -- watches ---------------------------------------------------------------------------

    def _watch_new_series(
        self, series: Series, watches: dict[str, dict[str, _Watch]], start: datetime
    ) -> None:
        """Start watching series seen for the first time, the busiest segments first."""
        volume: dict[SeriesKey, float] = defaultdict(float)
        for key, windows in series.items():
            if key.signal == "volume":
                volume[key] = sum(w.total for w in windows.values())
        per_dimension: dict[tuple[str, str], set[str]] = defaultdict(set)
        for feature_watches in watches.values():
            for watch in feature_watches.values():
                if watch.key.segment:
                    dimension = watch.key.segment.partition("=")[0]
                    per_dimension[(watch.key.feature, dimension)].add(watch.key.segment)
        order = sorted(
            series,
            key=lambda k: (
                k.feature,
                k.segment != WHOLE,
                -volume.get(SeriesKey(k.feature, "volume", k.segment), 0.0),
                k.segment,
                k.signal,
            ),
        )
        values: dict[tuple[str, str], set[str]] = defaultdict(set)
        for key in volume:
            if key.segment:
                values[(key.feature, key.segment.partition("=")[0])].add(key.segment)
        for key in order:
            signal = signal_named(key.signal)
            if signal is None:
                continue
            if key.segment and not self._distinct(key, values, volume):
                continue
            if key.segment:
                taken = per_dimension[(key.feature, key.segment.partition("=")[0])]
                if key.segment not in taken:
                    if len(taken) >= self.settings.max_segment_values:
                        continue
                    taken.add(key.segment)
            feature_watches = watches.setdefault(key.feature, {})
            for detector in self._detectors_for(key, signal):
                state_key = f"{key.signal}|{key.segment}|{detector.name}"
                if state_key not in feature_watches:
                    feature_watches[state_key] = _Watch(key, signal, detector, start.timestamp())

    @staticmethod
    def _distinct(
        key: SeriesKey,
        values: dict[tuple[str, str], set[str]],
        volume: dict[SeriesKey, float],
    ) -> bool:
        """Whether a segment differs from its whole feature: a dimension with one value that
        carries all the traffic would only repeat the feature's alerts."""
        dimension = key.segment.partition("=")[0]
        seen = values.get((key.feature, dimension), set())
        if len(seen) != 1:
            return True
        whole = volume.get(SeriesKey(key.feature, "volume"), 0.0)
        return volume.get(SeriesKey(key.feature, "volume", key.segment), 0.0) < whole

    def _detectors_for(self, key: SeriesKey, signal: Signal) -> list[Detector]:
        settings = self._settings_for(key.feature, key.signal)
        enabled = settings.enabled if settings.enabled is not None else not signal.opt_in
        if settings.budget is not None and settings.enabled is None:
            enabled = True  # naming a budget switches its signal on
        per_segment = settings.per_segment if settings.per_segment is not None else True
        if not enabled or (key.segment and not (signal.per_segment and per_segment)):
            return []
        names = settings.detectors or signal.detectors
        found: list[Detector] = []
        for name in names:
            params: dict[str, Any] = {
                "direction": settings.direction or signal.direction,
                "false_alarms_per_30_days": settings.false_alarms_per_30_days
                or self.settings.budget_for(key.feature),
            }
            if name == "budget":
                if settings.budget is None:
                    continue
                params["limit"] = settings.budget
                if params["direction"] == "both":
                    params["direction"] = signal.direction if signal.direction != "both" else "up"
            if settings.detectors is None and name not in detector_classes():
                continue  # a default from an optional part that is not installed
            cls = detector_class(name, signal.kind)
            accepted = _parameters(cls)
            params = {k: v for k, v in params.items() if k in accepted}
            params.update(settings.params.get(name, {}))
            found.append(cls(**params))
        return found

    def _text_wanted(self) -> int:
        settings = self.settings.settings_for("", "input_text")
        wanted = bool(settings.enabled) or any(
            bool(f.signals.get("input_text") and f.signals["input_text"].enabled)
            for f in self.settings.features.values()
        )
        return _TEXT_SAMPLES if wanted else 0

    # -- events ----------------------------------------------------------------------------

    def _alert(self, watch: _Watch, at: datetime) -> Alert:
        detector, signal, key = watch.detector, watch.signal, watch.key
        evidence = detector.evidence
        window_start = _parse(evidence.get("window_start"), at)
        baseline = signal.natural(_float(evidence.get("baseline")))
        current = signal.natural(_float(evidence.get("current")))
        evidence.update(
            {
                "signal": key.signal,
                "signal_description": signal.description,
                "segment": key.segment_dict,
                "baseline_value": baseline,
                "current_value": current,
                "latest_value": signal.natural(_float(evidence.get("latest"))),
                "sample_call_ids": self._reader.sample_call_ids(key, window_start, at),
            }
        )
        if key.signal == "error_rate":
            evidence["error_types"] = self._reader.error_types(key, window_start, at)
        if key.segment:
            evidence["segment_share"] = self._reader.segment_share(key, window_start, at)
        return Alert(
            detector=detector.name,
            feature=key.feature,
            signal=key.signal,
            incident_type=signal.incident_type,
            fired_at=at,
            window_start=window_start,
            window_end=at,
            baseline_value=baseline if baseline is not None else 0.0,
            current_value=current if current is not None else 0.0,
            p_value=float(evidence.get("p_value", 0.0)),
            evidence=evidence,
            segment=key.segment_dict,
        )

    def _recovery(self, watch: _Watch, at: datetime) -> Recovery:
        evidence = watch.detector.evidence
        evidence["current_value"] = watch.signal.natural(_float(evidence.get("current")))
        evidence["baseline_value"] = watch.signal.natural(_float(evidence.get("baseline")))
        return Recovery(
            watch.detector.name,
            watch.key.feature,
            at,
            evidence,
            signal=watch.key.signal,
            segment=watch.key.segment_dict,
        )

    # -- state -----------------------------------------------------------------------------

    @staticmethod
    def watermark(tx: StateTx) -> datetime | None:
        """The end of the last bucket evaluated: calls older than this are late."""
        stored = tx.load_state(_WATERMARK)
        return datetime.fromisoformat(stored) if stored else None

    def _load(self, tx: StateTx) -> dict[str, dict[str, _Watch]]:
        watches: dict[str, dict[str, _Watch]] = {}
        for name, stored in tx.load_states(_FEATURE_PREFIX).items():
            feature = name.removeprefix(_FEATURE_PREFIX)
            found: dict[str, _Watch] = {}
            for state_key, item in stored.items():
                signal_name, segment, detector_name = state_key.split("|")
                signal = signal_named(signal_name)
                if signal is None:
                    continue
                key = SeriesKey(feature, signal_name, segment)
                made = [d for d in self._detectors_for(key, signal) if d.name == detector_name]
                if not made:
                    continue  # the configuration no longer watches it
                made[0].load_state(item["state"])
                found[state_key] = _Watch(key, signal, made[0], float(item["seen"]))
            watches[feature] = found
        return watches

    def _save(
        self, tx: StateTx, watches: dict[str, dict[str, _Watch]], end: datetime, now: datetime
    ) -> None:
        for feature, feature_watches in watches.items():
            kept = {
                state_key: {"state": watch.detector.to_state(), "seen": watch.seen}
                for state_key, watch in feature_watches.items()
                # Idle for longer than it remembers: nothing to keep.
                if watch.detector.drift_detected
                or end.timestamp() - watch.seen <= watch.detector.history_s
            }
            if kept:
                tx.save_state(_FEATURE_PREFIX + feature, kept, now=now)
            else:
                tx.delete_state(_FEATURE_PREFIX + feature)

    def _bucket_floor(self, when: datetime) -> datetime:
        seconds = int(when.timestamp()) // self.bucket_s * self.bucket_s
        return datetime.fromtimestamp(seconds, UTC)


def _per_type_last(watch: _Watch) -> bool:
    return watch.key.signal.startswith(ERROR_TYPE_RATE)


@cache
def _parameters(cls: type) -> frozenset[str]:
    return frozenset(inspect.signature(cls).parameters)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _parse(value: Any, default: datetime) -> datetime:
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return default
