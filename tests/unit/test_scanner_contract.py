"""One contract for every content scanner, found automatically in the `fireline.scan` package.

Like the detector contract: a new scanner gets these checks without a line of test code,
provided `example()` returns a call it finds something in (built with no arguments, or by
its `example_scanner()`).
"""

import dataclasses
import doctest
import importlib
import inspect
import typing
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireline.domain.telemetry import Call, CallStatus
from fireline.scan.base import Hit, Part
from fireline.scan.registry import build_scanner, scanner_classes

SCANNERS = [scanner_classes()[name] for name in sorted(scanner_classes())]
#: Scanners that need an outside service to find anything (`needs_endpoint`); their example
#: is checked against a real (fake) server in their own integration test.
NEEDS_A_SERVER = {cls.name for cls in SCANNERS if getattr(cls, "needs_endpoint", False)}
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def configured(cls):
    maker = getattr(cls, "example_scanner", None)
    return maker() if maker is not None else cls()


@pytest.fixture(params=SCANNERS, ids=lambda cls: cls.name)
def scanner_class(request):
    return request.param


def test_the_scan_package_has_a_scanner_for_each_family_the_issue_names():
    expected = {"pii", "tenant_leak", "prompt_leak", "injection", "grounding", "answer"}
    expected |= {"reputation", "judge"}

    assert expected <= set(scanner_classes())


def test_a_scanner_declares_its_name_kinds_and_the_parts_it_reads(scanner_class):
    hints = typing.get_type_hints(scanner_class)

    assert isinstance(scanner_class.name, str)
    assert scanner_class.name.isidentifier()
    assert scanner_class.kinds
    assert all(isinstance(kind, str) for kind in scanner_class.kinds)
    assert scanner_class.parts
    assert all(isinstance(part, Part) for part in scanner_class.parts)
    assert "name" in hints
    assert "kinds" in hints
    assert "parts" in hints


def test_a_scanner_is_built_from_settings_with_no_configuration(scanner_class):
    scanner = build_scanner(scanner_class.name)

    assert scanner.name == scanner_class.name


def test_a_scanner_stores_its_settings_under_their_own_names(scanner_class):
    scanner = scanner_class()
    for name, parameter in inspect.signature(scanner_class).parameters.items():
        if parameter.default is inspect.Parameter.empty:
            continue
        assert hasattr(scanner, name), f"{scanner_class.__name__} does not keep {name!r}"


def test_a_scanner_finds_something_in_its_own_example(scanner_class):
    if scanner_class.name in NEEDS_A_SERVER:
        assert scanner_class().scan(scanner_class.example()) == []  # nothing without a server
        return
    scanner = configured(scanner_class)

    hits = scanner.scan(scanner_class.example())

    assert hits, f"{scanner_class.name} found nothing in its example"


@pytest.mark.parametrize(
    "scanner_class",
    [cls for cls in SCANNERS if cls.name not in NEEDS_A_SERVER],
    ids=lambda cls: cls.name,
)
def test_every_hit_names_its_scanner_a_declared_kind_and_a_place_in_the_call(scanner_class):
    call = scanner_class.example()
    for hit in configured(scanner_class).scan(call):
        assert isinstance(hit, Hit)
        assert hit.scanner == scanner_class.name
        assert hit.kind in scanner_class.kinds
        assert hit.part in scanner_class.parts
        assert 0.0 <= hit.score <= 1.0
        text = {Part.INPUT: call.input_text, Part.OUTPUT: call.output_text}.get(hit.part)
        if hit.start is not None:
            assert text is not None
            assert 0 <= hit.start < hit.end <= len(text)


def test_a_scanner_finds_the_same_hits_every_time(scanner_class):
    scanner = configured(scanner_class)
    call = scanner_class.example()

    assert scanner.scan(call) == scanner.scan(call)


def test_a_call_without_content_has_no_hits(scanner_class):
    empty = Call(call_id="c-empty", time=T0, feature="f", output_text=None, input_text=None)

    assert configured(scanner_class).scan(empty) == []


def test_a_failed_call_or_one_of_no_tenant_never_makes_a_scanner_raise(scanner_class):
    example = scanner_class.example()
    for variant in (
        dataclasses.replace(example, status=CallStatus.ERROR, error_type="timeout"),
        dataclasses.replace(example, tenant=None, output_text=""),
        dataclasses.replace(example, time=example.time.replace(tzinfo=None)),
    ):
        assert isinstance(configured(scanner_class).scan(variant), list)


_texts = st.one_of(st.none(), st.text(max_size=400))
_ids = st.lists(st.text(min_size=1, max_size=20), max_size=4).map(tuple)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cls=st.sampled_from(SCANNERS),
    input_text=_texts,
    output_text=_texts,
    retrieved=_ids,
    cited=_ids,
    tenant=st.one_of(st.none(), st.sampled_from(["acme", "globex"])),
    reason=st.one_of(st.none(), st.sampled_from(["stop", "length", "content_filter", "x"])),
)
def test_no_content_makes_a_scanner_raise(
    cls, input_text, output_text, retrieved, cited, tenant, reason
):
    call = Call(
        call_id="c-fuzz",
        time=T0,
        feature="f",
        tenant=tenant,
        input_text=input_text,
        output_text=output_text,
        retrieved_doc_ids=retrieved,
        cited_doc_ids=cited,
        finish_reason=reason,
    )
    for hit in configured(cls).scan(call):
        text = {Part.INPUT: input_text, Part.OUTPUT: output_text}.get(hit.part)
        if hit.start is not None:
            assert text is not None
            assert 0 <= hit.start < hit.end <= len(text)


def test_every_scanner_module_runs_its_docstring_examples(scanner_class):
    module = importlib.import_module(scanner_class.__module__)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)

    assert tried > 0, f"{module.__name__} has no runnable example"
    assert failures == 0


def test_a_canary_the_sdk_makes_is_found_by_the_prompt_leak_scanner_with_no_configuration():
    from fireline.scan.leaks import PromptLeakScanner
    from fireline.sdk import new_canary

    token = new_canary()
    call = Call(call_id="c", time=T0, feature="f", output_text=f"My rules: {token}.")

    [hit] = PromptLeakScanner().scan(call)

    assert call.output_text[hit.start : hit.end] == token
    assert new_canary() != token
