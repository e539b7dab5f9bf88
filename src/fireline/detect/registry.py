"""Detector classes by name, found in the `fireline.detect` package."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache
from typing import Any

from fireline.detect.base import Detector, SignalKind


def _is_detector(obj: Any) -> bool:
    return (
        inspect.isclass(obj)
        and not getattr(obj, "_is_protocol", False)
        and isinstance(getattr(obj, "name", None), str)
        and isinstance(getattr(obj, "kinds", None), frozenset)
        and all(callable(getattr(obj, verb, None)) for verb in ("update", "to_state", "clear"))
    )


@cache
def detector_classes() -> dict[str, type[Detector]]:
    """Every detector class of `fireline.detect`, by its `name`."""
    import fireline.detect

    found: dict[str, type[Detector]] = {}
    for info in pkgutil.iter_modules(fireline.detect.__path__, "fireline.detect."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, _is_detector):
            if obj.__module__ == module.__name__:
                found[obj.name] = obj
    return found


def detector_class(name: str, kind: SignalKind) -> type[Detector]:
    """The detector called `name`, which must watch signals of `kind`; ValueError otherwise."""
    classes = detector_classes()
    if name not in classes:
        raise ValueError(f"unknown detector {name!r}: known are {', '.join(sorted(classes))}")
    cls = classes[name]
    if kind not in cls.kinds:
        watched = ", ".join(sorted(cls.kinds))
        raise ValueError(f"detector {name!r} watches {watched} signals, not {kind} ones")
    return cls
