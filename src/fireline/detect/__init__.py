"""Detection: signals from the telemetry store, detectors that turn them into alerts."""

from fireline.detect.base import Detector, Window
from fireline.detect.engine import DetectionEngine, TickResult
from fireline.detect.error_rate import ErrorRateDetector

__all__ = ["DetectionEngine", "Detector", "ErrorRateDetector", "TickResult", "Window"]
