"""The detection engine: feeds detectors every bucket of event time closed since the last tick."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fireline.detect.base import ErrorCounts
from fireline.detect.error_rate import ErrorRateDetector
from fireline.domain.alert import Alert, Recovery
from fireline.store.state import StateTx
from fireline.store.telemetry import TelemetryStore

_WATERMARK = "detect/watermark"
_DETECTOR_PREFIX = "detect/detector/"


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one tick saw: alerts that fired, alarms that cleared, and how far event time got."""

    watermark: datetime | None
    buckets: int = 0
    alerts: list[Alert] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)


class DetectionEngine:
    """Runs one detector per feature over closed buckets of event time.

    A bucket [t, t + bucket_s) is evaluated once `now - lateness_s` has passed its end, so calls
    that arrive up to `lateness_s` late still count. Detector states and the watermark live in
    the state store and are saved in the caller's transaction with the incidents they cause.
    """

    def __init__(
        self,
        telemetry: TelemetryStore,
        *,
        make_detector: Callable[[], ErrorRateDetector] = ErrorRateDetector,
        lateness_s: int = 0,
    ) -> None:
        self._telemetry = telemetry
        self._make_detector = make_detector
        self.lateness_s = lateness_s
        prototype = make_detector()
        self.bucket_s = prototype.bucket_s
        self._history_s = prototype.baseline_s + max(prototype.window_s, prototype.recovery_s)
        self._detectors: dict[str, ErrorRateDetector] | None = None

    def tick(self, now: datetime, tx: StateTx) -> TickResult:
        """Evaluate every bucket that closed since the last tick, up to `now - lateness_s`.

        A feature seen for the first time is warmed up on the history already stored for it,
        so an app that starts by sending its recent past is judged against that past.
        """
        end = self._bucket_floor(now - timedelta(seconds=self.lateness_s))
        watermark = self.watermark(tx)
        if watermark is not None and end <= watermark:
            return TickResult(watermark=watermark)
        detectors = self._load_detectors(tx)
        horizon = end - timedelta(seconds=self._history_s)
        # A gap longer than any detector remembers is not replayed.
        start = max(watermark, horizon) if watermark is not None else horizon
        # Counting the whole horizon (not only since the watermark) finds features whose
        # first calls arrived late, and gives them their history.
        counts = self._counts(horizon, end)
        new = {feature for feature, _ in counts if feature not in detectors}
        for feature in sorted(new):
            detectors[feature] = self._make_detector()

        alerts: list[Alert] = []
        recoveries: list[Recovery] = []
        step = timedelta(seconds=self.bucket_s)
        for feature, detector in detectors.items():
            bucket_start = horizon if feature in new else start
            while bucket_start < end:
                bucket_end = bucket_start + step
                calls, errors = counts.get((feature, bucket_start), (0, 0))
                was_alarmed = detector.drift_detected
                detector.update(ErrorCounts(bucket_start, bucket_end, calls, errors))
                if detector.drift_detected and not was_alarmed:
                    alerts.append(self._alert(feature, detector, bucket_end))
                elif was_alarmed and not detector.drift_detected:
                    recoveries.append(
                        Recovery(detector.name, feature, bucket_end, detector.evidence)
                    )
                bucket_start = bucket_end

        for feature, detector in detectors.items():
            tx.save_state(_DETECTOR_PREFIX + feature, detector.to_state(), now=now)
        tx.save_state(_WATERMARK, end.isoformat(), now=now)
        buckets = int((end - start) / step)
        alerts.sort(key=lambda alert: (alert.fired_at, alert.feature))
        recoveries.sort(key=lambda recovery: (recovery.at, recovery.feature))
        return TickResult(end, buckets, alerts, recoveries)

    @staticmethod
    def watermark(tx: StateTx) -> datetime | None:
        """The end of the last bucket evaluated: calls older than this are late."""
        stored = tx.load_state(_WATERMARK)
        return datetime.fromisoformat(stored) if stored else None

    def _counts(
        self, start: datetime, end: datetime
    ) -> dict[tuple[str, datetime], tuple[int, int]]:
        return {
            (bucket.feature, bucket.start): (bucket.calls, bucket.errors)
            for bucket in self._telemetry.error_buckets(start, end, self.bucket_s)
        }

    def _load_detectors(self, tx: StateTx) -> dict[str, ErrorRateDetector]:
        if self._detectors is None:
            self._detectors = {}
            for name, state in tx.load_states(_DETECTOR_PREFIX).items():
                detector = self._make_detector()
                detector.load_state(state)
                self._detectors[name.removeprefix(_DETECTOR_PREFIX)] = detector
        return self._detectors

    def forget(self) -> None:
        """Drop detectors cached in memory, e.g. after a rolled-back transaction."""
        self._detectors = None

    def _alert(self, feature: str, detector: ErrorRateDetector, at: datetime) -> Alert:
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
