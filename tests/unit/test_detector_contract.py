"""One contract for every detector, found automatically in the `fireline.detect` package.

Like river's `test_estimators.py`: a new detector gets these checks without a line of test code,
provided it can be built with its default parameters. Each detector is tried on every signal
kind it accepts, with the streams of `detector_streams`.
"""

import doctest
import importlib
import inspect
import json
import pkgutil
import typing
from datetime import timedelta

import numpy as np
import pytest

import fireline.detect
from fireline.detect.base import EVIDENCE_KEYS, Direction, SignalKind
from tests.unit.detector_streams import STREAMS, T0, stream

CLASS_ATTRIBUTES = ("name", "kinds")
METHODS = ("update", "to_state", "load_state", "clear")
THREE_DAYS = timedelta(days=3)


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
CASES = [(cls, kind) for cls in DETECTORS for kind in sorted(cls.kinds)]


def buckets(kind: SignalKind, span: timedelta) -> int:
    return int(span / STREAMS[kind].bucket)


def feed(detector, windows) -> list[bool]:
    alarms = []
    for x in windows:
        detector.update(x)
        alarms.append(detector.drift_detected)
    return alarms


def test_the_detect_package_has_detectors_for_every_signal_kind():
    covered = {kind for cls in DETECTORS for kind in cls.kinds}

    assert covered == set(SignalKind)


@pytest.fixture(params=DETECTORS, ids=lambda cls: cls.__name__)
def detector_class(request):
    return request.param


@pytest.fixture(params=CASES, ids=lambda case: f"{case[0].__name__}-{case[1]}")
def case(request):
    return request.param


def test_a_detector_declares_its_name_and_the_signal_kinds_it_watches(detector_class):
    hints = typing.get_type_hints(detector_class)

    assert isinstance(detector_class.name, str)
    assert detector_class.name
    assert detector_class.kinds
    assert all(kind in SignalKind for kind in detector_class.kinds)
    for attribute in CLASS_ATTRIBUTES:
        assert typing.get_origin(hints.get(attribute)) is typing.ClassVar, attribute


def test_a_detector_states_its_false_alarm_budget_and_direction(detector_class):
    detector = detector_class()

    assert detector.false_alarms_per_30_days > 0
    assert detector.direction in Direction


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


def test_a_detector_starts_quiet_with_no_evidence_and_no_level(detector_class):
    detector = detector_class()

    assert detector.drift_detected is False
    assert detector.evidence == {}
    assert detector.level is None
    assert detector.history_s > 0


def test_the_docstring_examples_of_a_detector_pass(detector_class):
    module = inspect.getmodule(detector_class)
    examples = doctest.DocTestFinder().find(detector_class, module=module)

    assert sum(len(test.examples) for test in examples) > 0, "the class has no examples"

    failed, attempted = doctest.testmod(module, verbose=False, report=False)

    assert attempted > 0
    assert failed == 0


def test_a_detector_raises_no_alarm_on_three_stable_days(case):
    # The false-alarm budget is one per 30 days in expectation, so three days stay quiet with
    # probability of at least 90% over seeds; any one seed is therefore a fair trial.
    detector_class, kind = case
    detector = detector_class()
    windows = stream(kind, [False] * buckets(kind, THREE_DAYS), np.random.default_rng(20260105))

    alarms = feed(detector, windows)

    assert not any(alarms), f"false alarm after {alarms.index(True) + 1} buckets"


def test_a_detector_alarms_within_five_buckets_of_an_obvious_fault(case):
    detector_class, kind = case
    detector = detector_class()
    quiet = STREAMS[kind].quiet_buckets
    windows = stream(kind, [False] * quiet + [True] * 5, np.random.default_rng(7))

    alarms = feed(detector, windows)

    assert not any(alarms[:quiet])
    assert any(alarms[quiet:])
    assert detector.drift_detected
    assert detector.level is not None
    assert set(EVIDENCE_KEYS) <= set(detector.evidence)
    json.dumps(detector.evidence)


def _fault_pattern(kind: SignalKind) -> list[bool]:
    quiet = STREAMS[kind].quiet_buckets
    return [False] * quiet + [True] * 30 + [False] * 60 + [True] * 10


@pytest.mark.parametrize("at", ["while quiet", "while alarmed"])
def test_a_detector_restored_from_its_state_behaves_like_the_original(case, at):
    detector_class, kind = case
    pattern = _fault_pattern(kind)
    windows = stream(kind, pattern, np.random.default_rng(11))
    split = pattern.index(True) // 2 if at == "while quiet" else pattern.index(True) + 10
    original = detector_class()
    feed(original, windows[:split])

    restored = detector_class()
    restored.load_state(json.loads(json.dumps(original.to_state())))

    assert restored.drift_detected == original.drift_detected
    if at == "while alarmed":
        assert original.drift_detected
    for x in windows[split:]:
        original.update(x)
        restored.update(x)
        assert restored.drift_detected == original.drift_detected, x.start
        assert restored.evidence == original.evidence, x.start
    assert restored.to_state() == json.loads(json.dumps(original.to_state()))


def test_the_state_of_a_detector_is_json_serialisable_at_every_step(case):
    detector_class, kind = case
    detector = detector_class()
    quiet = STREAMS[kind].quiet_buckets
    windows = stream(kind, [False] * quiet + [True] * 20, np.random.default_rng(3))

    for x in windows:
        detector.update(x)
        json.dumps(detector.to_state())
        json.dumps(detector.evidence)

    assert detector.drift_detected  # the loop above did cover an alarmed state


def test_a_cleared_alarm_is_forgotten_and_raised_again_if_the_fault_goes_on(case):
    detector_class, kind = case
    detector = detector_class()
    rng = np.random.default_rng(41)
    quiet = STREAMS[kind].quiet_buckets
    feed(detector, stream(kind, [False] * quiet + [True] * 5, rng))
    assert detector.drift_detected

    detector.clear()
    assert not detector.drift_detected
    assert detector.evidence == {}
    later = T0 + (quiet + 5) * STREAMS[kind].bucket
    alarms = feed(detector, stream(kind, [True] * 10, rng, start=later))
    assert any(alarms)
