"""Scanner classes by name, found in the `fireline.scan` package, and built from settings."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
from collections.abc import Mapping
from functools import cache
from typing import Any

from fireline.scan.base import Scanner
from fireline.scan.documents import DocumentCatalog

#: Scanners that do nothing useful until configured (an endpoint), so are off by default.
OFF_BY_DEFAULT = frozenset({"judge"})


def _is_scanner(obj: Any) -> bool:
    return (
        inspect.isclass(obj)
        and not getattr(obj, "_is_protocol", False)
        and isinstance(getattr(obj, "name", None), str)
        and isinstance(getattr(obj, "kinds", None), frozenset)
        and isinstance(getattr(obj, "parts", None), frozenset)
        and callable(getattr(obj, "scan", None))
        and callable(getattr(obj, "example", None))
    )


@cache
def scanner_classes() -> dict[str, type[Scanner]]:
    """Every scanner class of `fireline.scan`, by its `name`."""
    import fireline.scan

    found: dict[str, type[Scanner]] = {}
    for info in pkgutil.iter_modules(fireline.scan.__path__, "fireline.scan."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, _is_scanner):
            if obj.__module__ == module.__name__:
                found[obj.name] = obj
    return found


def default_scanners() -> tuple[str, ...]:
    """The scanners that run with no configuration."""
    return tuple(sorted(name for name in scanner_classes() if name not in OFF_BY_DEFAULT))


def build_scanner(
    name: str,
    settings: Mapping[str, Any] | None = None,
    *,
    documents: DocumentCatalog | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Scanner:
    """The scanner called `name` with its settings; ValueError naming the problem otherwise.

    A scanner that takes `documents` gets the catalog; a setting `api_key_env` becomes
    `api_key`, read from that environment variable, so secrets stay out of config files.
    """
    classes = scanner_classes()
    if name not in classes:
        raise ValueError(f"unknown scanner {name!r}: known are {', '.join(sorted(classes))}")
    cls = classes[name]
    kwargs = dict(settings or {})
    accepted = inspect.signature(cls).parameters
    if "documents" in kwargs:
        raise ValueError(f"{name}: documents come from the document catalog, not settings")
    if "api_key_env" in kwargs:
        variable = str(kwargs.pop("api_key_env"))
        kwargs["api_key"] = environ.get(variable)
    for key in kwargs:
        if key not in accepted:
            known = ", ".join(p for p in accepted if p != "documents") or "none"
            raise ValueError(f"{name}: unknown setting {key!r} (settings: {known})")
    if "documents" in accepted and documents is not None:
        kwargs["documents"] = documents
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: {error}") from None
