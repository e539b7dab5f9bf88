"""Detection: signals from the telemetry store, detectors that turn them into alerts."""

from fireline.detect.base import Detector, ErrorCounts
from fireline.detect.engine import DetectionEngine, TickResult
from fireline.detect.error_rate import ErrorRateDetector

__all__ = ["DetectionEngine", "Detector", "ErrorCounts", "ErrorRateDetector", "TickResult"]
