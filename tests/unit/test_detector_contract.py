"""One contract for every detector, found automatically in the `fireline.detect` package.

Like river's `test_estimators.py`: a new detector gets these checks without a line of test code,
provided it can be built with its default parameters.
"""

import doctest
import importlib
import inspect
import json
import pkgutil
import typing
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import fireline.detect
from fireline.detect.base import ErrorCounts
from fireline.domain.incident import IncidentType

CLASS_ATTRIBUTES = ("name", "signal", "incident_type")
METHODS = ("update", "to_state", "load_state")

BUCKET = timedelta(minutes=1)
T0 = datetime(2026, 1, 5, tzinfo=UTC)
CALLS_PER_BUCKET = 150
STABLE_ERROR_RATE = 0.01
OUTAGE_ERROR_RATE = 0.5
THREE_DAYS = 3 * 24 * 60
TWO_HOURS = 2 * 60


def follows_the_detector_protocol(obj) -> bool:
    return (
        inspect.isclass(obj)
        and not getattr(obj, "_is_protocol", False)
        and all(hasattr(obj, attribute) for attribute in CLASS_ATTRIBUTES)
        and all(callable(getattr(obj, method, None)) for method in METHODS)
    )


def all_detectors() -> list[type]:
    found = {}
    for info in pkgutil.walk_packages(fireline.detect.__path__, fireline.detect.__name__ + "."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, follows_the_detector_protocol):
            if obj.__module__ == module.__name__:
                found[obj.__qualname__] = obj
    return [found[name] for name in sorted(found)]


DETECTORS = all_detectors()


def buckets(error_rates, rng, start=T0) -> list[ErrorCounts]:
    """One bucket a minute from `start`, ~150 calls each, each call failing at its rate."""
    counts = []
    for i, rate in enumerate(error_rates):
        calls = int(rng.poisson(CALLS_PER_BUCKET))
        errors = int(rng.binomial(calls, rate))
        counts.append(ErrorCounts(start + i * BUCKET, start + (i + 1) * BUCKET, calls, errors))
    return counts


def feed(detector, stream) -> list[bool]:
    alarms = []
    for x in stream:
        detector.update(x)
        alarms.append(detector.drift_detected)
    return alarms


def test_the_detect_package_has_at_least_one_detector():
    assert DETECTORS, "no class in fireline.detect follows the Detector protocol"


@pytest.fixture(params=DETECTORS, ids=lambda cls: cls.__name__)
def detector_class(request):
    return request.param


def test_a_detector_declares_its_name_signal_and_incident_type(detector_class):
    hints = typing.get_type_hints(detector_class)

    assert isinstance(detector_class.name, str)
    assert detector_class.name
    assert isinstance(detector_class.signal, str)
    assert detector_class.signal
    assert detector_class.incident_type in IncidentType
    for attribute in CLASS_ATTRIBUTES:
        assert typing.get_origin(hints.get(attribute)) is typing.ClassVar, attribute


def test_every_init_parameter_is_stored_as_an_attribute_of_the_same_name(detector_class):
    parameters = [
        p
        for name, p in inspect.signature(detector_class).parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    detector = detector_class()

    for parameter in parameters:
        assert hasattr(detector, parameter.name), parameter.name
        assert getattr(detector, parameter.name) == parameter.default, parameter.name


def test_a_detector_starts_quiet_with_no_evidence(detector_class):
    detector = detector_class()

    assert detector.drift_detected is False
    assert detector.evidence == {}


def test_the_docstring_examples_of_a_detector_pass(detector_class):
    module = inspect.getmodule(detector_class)
    examples = doctest.DocTestFinder().find(detector_class, module=module)

    assert sum(len(test.examples) for test in examples) > 0, "the class has no examples"

    failed, attempted = doctest.testmod(module, verbose=False, report=False)

    assert attempted > 0
    assert failed == 0


def test_a_detector_raises_no_alarm_on_three_stable_days(detector_class):
    # The false-alarm budget is one per 30 days in expectation, so three days stay quiet with
    # probability of at least 90% over seeds; any one seed is therefore a fair trial.
    rng = np.random.default_rng(20260105)
    detector = detector_class()

    alarms = feed(detector, buckets([STABLE_ERROR_RATE] * THREE_DAYS, rng))

    assert not any(alarms), f"false alarm after {alarms.index(True) + 1} buckets"


def test_a_detector_alarms_within_five_buckets_of_half_the_calls_failing(detector_class):
    rng = np.random.default_rng(7)
    detector = detector_class()
    rates = [STABLE_ERROR_RATE] * TWO_HOURS + [OUTAGE_ERROR_RATE] * 5

    alarms = feed(detector, buckets(rates, rng))

    assert not any(alarms[:TWO_HOURS])
    assert any(alarms[TWO_HOURS:])


@pytest.mark.parametrize("split", [100, TWO_HOURS + 10], ids=["while quiet", "while alarmed"])
def test_a_detector_restored_from_its_state_behaves_like_the_original(detector_class, split):
    rng = np.random.default_rng(11)
    rates = (
        [STABLE_ERROR_RATE] * TWO_HOURS
        + [OUTAGE_ERROR_RATE] * 30
        + [STABLE_ERROR_RATE] * 60
        + [OUTAGE_ERROR_RATE] * 10
    )
    stream = buckets(rates, rng)
    original = detector_class()
    feed(original, stream[:split])

    state = original.to_state()
    restored = detector_class()
    restored.load_state(json.loads(json.dumps(state)))

    assert restored.drift_detected == original.drift_detected
    for x in stream[split:]:
        original.update(x)
        restored.update(x)
        assert restored.drift_detected == original.drift_detected, x.start
        assert restored.evidence == original.evidence, x.start
    assert restored.to_state() == json.loads(json.dumps(original.to_state()))


def test_the_state_of_a_detector_is_json_serialisable_at_every_step(detector_class):
    rng = np.random.default_rng(3)
    detector = detector_class()
    rates = [STABLE_ERROR_RATE] * TWO_HOURS + [OUTAGE_ERROR_RATE] * 20

    for x in buckets(rates, rng):
        detector.update(x)
        json.dumps(detector.to_state())
        json.dumps(detector.evidence)

    assert detector.drift_detected  # the loop above did cover an alarmed state


def test_a_cleared_alarm_is_forgotten_and_raised_again_if_the_fault_goes_on(detector_class):
    detector = detector_class()
    rng = np.random.default_rng(41)
    feed(detector, buckets([STABLE_ERROR_RATE] * TWO_HOURS, rng))
    outage_start = T0 + TWO_HOURS * BUCKET
    feed(detector, buckets([OUTAGE_ERROR_RATE] * 5, rng, start=outage_start))
    assert detector.drift_detected
    assert detector.level is not None
    assert detector.level > 0.3

    detector.clear()
    assert not detector.drift_detected
    assert detector.evidence == {}
    alarms = feed(detector, buckets([OUTAGE_ERROR_RATE] * 10, rng, start=outage_start + 5 * BUCKET))
    assert any(alarms)


def test_a_detector_has_no_level_without_data(detector_class):
    assert detector_class().level is None
    assert detector_class().history_s > 0
