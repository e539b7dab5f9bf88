"""Notifier classes by kind, found in the `fireline.notify` package, and built from settings."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
from collections.abc import Mapping
from functools import cache
from typing import Any

from fireline.notify.base import Notifier
from fireline.notify.config import Channel, NotifySettings


def _is_notifier(obj: Any) -> bool:
    return (
        inspect.isclass(obj)
        and not getattr(obj, "_is_protocol", False)
        and isinstance(getattr(obj, "kind", None), str)
        and callable(getattr(obj, "send", None))
        and callable(getattr(obj, "from_settings", None))
        and callable(getattr(obj, "example", None))
    )


@cache
def notifier_classes() -> dict[str, type[Any]]:
    """Every notifier class of `fireline.notify`, by its `kind` (the channel's `type`)."""
    import fireline.notify

    found: dict[str, type[Any]] = {}
    for info in pkgutil.iter_modules(fireline.notify.__path__, "fireline.notify."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, _is_notifier):
            if obj.__module__ == module.__name__:
                found[obj.kind] = obj
    return found


def build_notifier(name: str, settings: Channel, env: Mapping[str, str] = os.environ) -> Notifier:
    """The notifier of channel `name`; ConfigError when a secret it names is not set."""
    notifier: Notifier = notifier_classes()[settings.type].from_settings(name, settings, env)
    return notifier


def build_notifiers(
    settings: NotifySettings, env: Mapping[str, str] = os.environ
) -> dict[str, Notifier]:
    """Every configured channel's notifier, by channel name."""
    return {name: build_notifier(name, channel, env) for name, channel in settings.channels.items()}
