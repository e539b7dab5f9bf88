"""The SDK's public surface: small, documented, typed, and light to import."""

from __future__ import annotations

import doctest
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys

import pytest

import fireline.sdk
from fireline.domain.guard import ContainmentLevel as ServerLevel
from fireline.sdk import ContainmentLevel, FirelineClient

HEAVY = ("duckdb", "sqlalchemy", "fastapi", "pydantic", "scipy", "numpy", "pyarrow", "alembic")


def test_the_public_names_are_exactly_these() -> None:
    assert fireline.sdk.__all__ == [
        "CallRecord",
        "ContainmentLevel",
        "FirelineClient",
        "Guard",
        "ReviewOutcome",
        "Stats",
        "current_call",
        "new_canary",
    ]


@pytest.mark.parametrize("name", fireline.sdk.__all__)
def test_every_public_name_has_a_docstring_of_its_own_that_starts_with_one_line(
    name: str,
) -> None:
    doc = getattr(fireline.sdk, name).__doc__ or ""
    summary = doc.strip().splitlines()[0] if doc.strip() else ""
    assert summary, f"{name} has no docstring"
    assert not summary.startswith(f"{name}("), "a generated dataclass signature is no docstring"
    assert summary.endswith((".", ":")), "the first line is a sentence"
    assert len(summary) <= 100


@pytest.mark.parametrize(
    "method",
    [
        name
        for name, member in inspect.getmembers(FirelineClient, inspect.isfunction)
        if not name.startswith("_")
    ],
)
def test_every_public_method_of_the_client_has_a_docstring(method: str) -> None:
    assert inspect.getdoc(getattr(FirelineClient, method))


def test_importing_the_sdk_loads_nothing_heavy() -> None:
    code = (
        "import json, sys; import fireline.sdk; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    )
    assert "httpx" in loaded
    assert [name for name in HEAVY if name in loaded] == []


def test_the_sdk_modules_import_only_the_standard_library_httpx_and_themselves() -> None:
    allowed = {*sys.stdlib_module_names, "httpx", "fireline"}
    for module in pkgutil.iter_modules(fireline.sdk.__path__, "fireline.sdk."):
        source = inspect.getsource(importlib.import_module(module.name))
        for line in source.splitlines():
            if line.startswith(("import ", "from ")) and not line.startswith("from __future__"):
                top = line.split()[1].split(".")[0]
                assert top in allowed, f"{module.name}: {line}"
                if top == "fireline":
                    assert line.split()[1] in ("fireline", "fireline.sdk") or line.split()[
                        1
                    ].startswith("fireline.sdk."), f"{module.name}: {line}"


def test_containment_levels_match_the_servers() -> None:
    assert {level.name: level.value for level in ContainmentLevel} == {
        level.name: level.value for level in ServerLevel
    }


@pytest.mark.parametrize(
    "module",
    [m.name for m in pkgutil.iter_modules(fireline.sdk.__path__, "fireline.sdk.")]
    + ["fireline.sdk"],
)
def test_the_examples_in_the_docstrings_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "ftp://example.com"}, "url must be"),
        ({"url": "not a url"}, "url must be"),
        ({"flush_interval": 0}, "flush_interval"),
        ({"max_batch": 10_001}, "max_batch"),
        ({"max_queue": 0}, "max_queue"),
        ({"timeout": -1}, "timeout"),
        ({"default_guard_level": 6}, "default_guard_level"),
        ({"token": "fl_a b"}, "token"),
        ({"url": "http://user:secret@127.0.0.1:8000"}, "credentials"),
    ],
)
def test_a_misconfigured_client_is_refused_when_it_is_created(
    options: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"url": "http://127.0.0.1:8000", "token": "fl_x", **options}
    with pytest.raises(ValueError, match=message):
        FirelineClient(**arguments)  # type: ignore[arg-type]


def test_the_client_never_shows_its_token() -> None:
    client = FirelineClient("http://127.0.0.1:8000/", "fl_secret", enabled=False)
    assert "fl_secret" not in repr(client)
    assert repr(client) == "FirelineClient('http://127.0.0.1:8000', enabled=False)"
