"""The detection engine: feeds detectors every bucket of event time closed since the last tick."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fireline.detect.base import Detector, rate_window
from fireline.detect.error_rate import ErrorRateDetector
from fireline.domain.alert import Alert, DetectionEvent, Level, Recovery
from fireline.store.state import StateTx
from fireline.store.telemetry import TelemetryStore

_WATERMARK = "detect/watermark"
_DETECTOR_PREFIX = "detect/detector/"

Counts = dict[tuple[str, datetime], tuple[int, int]]


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one tick saw, in event-time order, and how far event time got."""

    watermark: datetime | None
    buckets: int = 0
    events: list[DetectionEvent] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)

    @property
    def alerts(self) -> list[Alert]:
        return [event for event in self.events if isinstance(event, Alert)]

    @property
    def recoveries(self) -> list[Recovery]:
        return [event for event in self.events if isinstance(event, Recovery)]


class DetectionEngine:
    """Runs one detector per feature over closed buckets of event time.

    A bucket [t, t + bucket_s) is evaluated once `now - lateness_s` has passed its end, so calls
    that arrive up to `lateness_s` late still count. Detector states and the watermark live in
    the state store, are read at the start of every tick (another process may have closed an
    alarm) and saved in the caller's transaction with the incidents they cause.
    """

    def __init__(
        self,
        telemetry: TelemetryStore,
        *,
        make_detector: Callable[[], Detector] = ErrorRateDetector,
        lateness_s: int = 0,
    ) -> None:
        self._telemetry = telemetry
        self._make_detector = make_detector
        self.lateness_s = lateness_s
        prototype = make_detector()
        self.detector_name = prototype.name
        self.bucket_s = prototype.bucket_s
        self._history_s = prototype.history_s

    def tick(self, now: datetime, tx: StateTx) -> TickResult:
        """Evaluate every bucket that closed since the last tick, up to `now - lateness_s`.

        A feature seen for the first time is warmed up on the history already stored for it,
        so an app that starts by sending its recent past is judged against that past.
        """
        watermark = self.watermark(tx)
        end = self._bucket_floor(now - timedelta(seconds=self.lateness_s))
        if watermark is not None:
            end = max(end, watermark)  # event time never runs backwards
        horizon = end - timedelta(seconds=self._history_s)
        # A gap longer than any detector remembers is not replayed.
        start = max(watermark, horizon) if watermark is not None else horizon
        # Counting the whole horizon (not only since the watermark) finds features whose
        # first calls arrived late, and gives them their history.
        counts = self._counts(horizon, end)
        detectors = self._load_detectors(tx)
        new = {feature for feature, _ in counts if feature not in detectors}
        if start == end and not new:
            return TickResult(watermark=end)
        for feature in sorted(new):
            detectors[feature] = self._make_detector()
        for feature, detector in detectors.items():
            if detector.drift_detected and tx.open_alert(detector.name, feature) is None:
                detector.clear()  # a person resolved the incident; judge afresh

        events: list[DetectionEvent] = []
        for feature, detector in detectors.items():
            first = horizon if feature in new else start
            events.extend(self._feed(feature, detector, counts, first, end))
        levels = [
            Level(detector.name, feature, detector.signal, end, level)
            for feature, detector in detectors.items()
            if detector.drift_detected and (level := detector.level) is not None
        ]

        active = {feature for feature, _ in counts}
        for feature, detector in detectors.items():
            key = self._key(feature)
            if feature in active or detector.drift_detected:
                tx.save_state(key, detector.to_state(), now=now)
            else:
                tx.delete_state(key)  # idle for longer than it remembers: nothing to keep
        tx.save_state(_WATERMARK, end.isoformat(), now=now)
        events.sort(key=lambda event: (event.at, event.feature))
        buckets = int((end - start) / timedelta(seconds=self.bucket_s))
        return TickResult(end, buckets, events, levels)

    def _feed(
        self, feature: str, detector: Detector, counts: Counts, start: datetime, end: datetime
    ) -> list[DetectionEvent]:
        events: list[DetectionEvent] = []
        step = timedelta(seconds=self.bucket_s)
        bucket_start = start
        while bucket_start < end:
            bucket_end = bucket_start + step
            calls, errors = counts.get((feature, bucket_start), (0, 0))
            was_alarmed = detector.drift_detected
            detector.update(rate_window(bucket_start, bucket_end, calls, errors))
            if detector.drift_detected and not was_alarmed:
                events.append(self._alert(feature, detector, bucket_end))
            elif was_alarmed and not detector.drift_detected:
                events.append(Recovery(detector.name, feature, bucket_end, detector.evidence))
            bucket_start = bucket_end
        return events

    @staticmethod
    def watermark(tx: StateTx) -> datetime | None:
        """The end of the last bucket evaluated: calls older than this are late."""
        stored = tx.load_state(_WATERMARK)
        return datetime.fromisoformat(stored) if stored else None

    def _key(self, feature: str) -> str:
        return f"{_DETECTOR_PREFIX}{self.detector_name}/{feature}"

    def _load_detectors(self, tx: StateTx) -> dict[str, Detector]:
        prefix = f"{_DETECTOR_PREFIX}{self.detector_name}/"
        detectors: dict[str, Detector] = {}
        for name, state in tx.load_states(prefix).items():
            detector = self._make_detector()
            detector.load_state(state)
            detectors[name.removeprefix(prefix)] = detector
        return detectors

    def _counts(self, start: datetime, end: datetime) -> Counts:
        return {
            (bucket.feature, bucket.start): (bucket.calls, bucket.errors)
            for bucket in self._telemetry.error_buckets(start, end, self.bucket_s)
        }

    def _alert(self, feature: str, detector: Detector, at: datetime) -> Alert:
        evidence = detector.evidence
        window_start = at - timedelta(seconds=detector.window_s)
        evidence["error_types"] = self._telemetry.error_types(feature, window_start, at)
        evidence["sample_failed_call_ids"] = self._telemetry.sample_call_ids(
            feature, window_start, at, failed=True
        )
        return Alert(
            detector=detector.name,
            feature=feature,
            signal=detector.signal,
            incident_type=detector.incident_type,
            fired_at=at,
            window_start=window_start,
            window_end=at,
            baseline_value=float(evidence["baseline_error_rate"]),
            current_value=float(evidence["error_rate"]),
            p_value=float(evidence["p_value"]),
            evidence=evidence,
        )

    def _bucket_floor(self, when: datetime) -> datetime:
        seconds = int(when.timestamp()) // self.bucket_s * self.bucket_s
        return datetime.fromtimestamp(seconds, UTC)
