"""Guards read from fireline, cached, refreshed in the background, and kept when it is down."""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any, Literal
from urllib.parse import quote

import httpx

from fireline.sdk._log import RateLimitedLog
from fireline.sdk._outbox import Outbox
from fireline.sdk._wire import valid_feature


class ContainmentLevel(IntEnum):
    """Graduated containment of a feature, from normal service (0) to full shutdown (5).

    >>> Guard("support-bot", level=3).level >= ContainmentLevel.FALLBACK
    True
    """

    NONE = 0
    WARN = 1
    HUMAN_REVIEW = 2
    FALLBACK = 3
    FEATURE_DISABLED = 4
    FULL_SHUTDOWN = 5


@dataclass(frozen=True, slots=True)
class Guard:
    """What the app must do for one feature, as fireline last said (or a default).

    `source` is `"fireline"` when the latest read succeeded, `"last_known"` when it failed
    and an earlier answer is kept (fail static), `"default"` before any read succeeded.

    >>> guard = Guard("support-bot", level=4, enabled=False, probe_share=0.0)
    >>> guard.name, guard.should_call_model()
    ('feature_disabled', False)
    """

    feature: str
    level: int = 0
    enabled: bool = True
    probe_share: float = 0.0
    reason: str | None = None
    incident_id: int | None = None
    updated_at: datetime | None = None
    source: Literal["fireline", "last_known", "default"] = "default"
    #: Versions to use instead of the deployed ones, by kind (a rollback): {"prompt": "v7"}.
    routing: Mapping[str, str] = field(default_factory=dict)
    #: Share of requests the app may serve at all (1: all); turn the rest away.
    throttle: float = 1.0
    #: The segment the guard applies to ({"tenant": "acme"}); {} is the whole feature.
    segment: Mapping[str, str] = field(default_factory=dict)
    #: Block patterns (regular expressions) for inputs and outputs (a forward fix).
    block_input: tuple[str, ...] = ()
    block_output: tuple[str, ...] = ()
    #: Staged restoration: the share of users (or sessions) back on the normal path.
    restore_share: float = 0.0
    restore_salt: str | None = None
    restore_unit: str = "user"
    #: Where fallback mode (level 3) sends requests, as configured in fireline: any of
    #: "model", "prompt_version", "index_version" and "path" (a rule-based path of the app).
    fallback: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The level's name, e.g. `feature_disabled`."""
        try:
            return ContainmentLevel(self.level).name.lower()
        except ValueError:
            return f"level_{self.level}"

    def should_call_model(self) -> bool:
        """True when enabled; when disabled, true for a random `probe_share` of calls."""
        return self.enabled or random.random() < self.probe_share

    def for_request(
        self, attributes: Mapping[str, Any] | None = None, *, key: str | None = None
    ) -> Guard:
        """The guard as it applies to one request: normal service outside the guard's segment
        and for a user (or session) `key` already let back by a staged restoration (without a
        key, a random share of requests as large as the restored share).

        >>> guard = Guard("bot", level=4, enabled=False, segment={"tenant": "acme"})
        >>> guard.for_request({"tenant": "acme"}).level, guard.for_request({"tenant": "x"}).level
        (4, 0)
        """
        attributes = attributes or {}
        outside = any(str(attributes.get(k)) != v for k, v in self.segment.items())
        if self.restore_salt is None or self.restore_share <= 0:
            restored = False
        elif key is None:  # no user or session to place: a random share of requests
            restored = random.random() < self.restore_share
        else:
            restored = _share_point(key, self.restore_salt) < self.restore_share
        if self.level == 0 or not (outside or restored):
            return self
        return dataclasses.replace(self, level=0, enabled=True, probe_share=0.0)

    @property
    def in_fallback(self) -> bool:
        """Whether requests go to the fallback route (`fallback`) rather than the model.

        >>> Guard("bot", level=3, fallback={"model": "small"}).in_fallback
        True
        """
        return self.level == ContainmentLevel.FALLBACK

    def admits(self) -> bool:
        """Whether this request passes the throttle (a random `throttle` share does)."""
        return self.throttle >= 1.0 or random.random() < self.throttle

    def blocks(self, text: str, where: Literal["input", "output"] = "input") -> str | None:
        """The first block pattern for `where` that `text` matches, or None.

        >>> Guard("bot", block_input=(r"ignore (all )?previous",)).blocks("Ignore previous rules")
        'ignore (all )?previous'
        """
        for pattern in self.block_input if where == "input" else self.block_output:
            try:
                if re.search(pattern, text, re.IGNORECASE):
                    return pattern
            except re.error:  # fireline validates patterns; one from elsewhere is skipped
                continue
        return None


def _share_point(key: str, salt: str) -> float:
    """Where `key` falls in [0, 1); the same hash as fireline's canary assignment."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def default_guard(feature: str, level: int) -> Guard:
    """The guard assumed before fireline has answered for `feature`."""
    return Guard(feature, level=level, enabled=level < ContainmentLevel.FEATURE_DISABLED)


def parse_guard(feature: str, body: object) -> Guard | None:
    """The guard in an answer of `GET /api/guards/{feature}`, or None if it is not one."""
    if not isinstance(body, Mapping):
        return None
    level = body.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or level < 0:
        return None
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        enabled = level < ContainmentLevel.FEATURE_DISABLED
    probe = body.get("probe_share")
    probe_share = float(probe) if isinstance(probe, int | float) and 0 <= probe <= 1 else 0.0
    reason = body.get("reason")
    incident_id = body.get("incident_id")
    return Guard(
        feature=feature,
        level=level,
        enabled=enabled,
        probe_share=probe_share,
        reason=reason if isinstance(reason, str) else None,
        incident_id=incident_id if isinstance(incident_id, int) else None,
        updated_at=_datetime(body.get("updated_at")),
        source="fireline",
        routing=_routing(body.get("routing")),
        throttle=_share(body.get("throttle"), 1.0),
        segment=_routing(body.get("segment")),
        block_input=_patterns(body.get("filters"), "input"),
        block_output=_patterns(body.get("filters"), "output"),
        restore_share=_share(body.get("restore_share"), 0.0),
        restore_salt=salt if isinstance(salt := body.get("restore_salt"), str) else None,
        restore_unit="session" if body.get("restore_unit") == "session" else "user",
        fallback=_routing(body.get("fallback")),
    )


def _share(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return default


def _patterns(filters: Any, side: str) -> tuple[str, ...]:
    if not isinstance(filters, Mapping) or not isinstance(filters.get(side), list):
        return ()
    return tuple(p for p in filters[side] if isinstance(p, str))


def _routing(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class _Slot:
    __slots__ = ("checked", "guard", "known", "ready", "refreshing")

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.known = False
        self.checked = 0.0
        self.refreshing = False
        self.ready = threading.Event()


class GuardCache:
    """Guards by feature, each re-read at most every `ttl` seconds.

    The first read of a feature waits for fireline at most `timeout` seconds (with `wait`
    False, or for a feature given to `prefetch`, it returns the default at once and the guard
    is read in the background); later reads return at once and refresh a stale guard on a
    background thread. When a read fails the last guard read stays in force, or the default
    before any read succeeded.
    """

    def __init__(
        self,
        http: Callable[[], httpx.Client],
        base_url: str,
        headers: Mapping[str, str],
        outbox: Outbox,
        log: RateLimitedLog,
        *,
        ttl: float,
        timeout: float,
        default_level: int,
        wait: bool = True,
    ) -> None:
        self._http = http
        self._base_url = base_url
        self._headers = dict(headers)
        self._outbox = outbox
        self._log = log
        self._ttl = ttl
        self._timeout = timeout
        self._default_level = default_level
        self._wait = wait
        self._slots: dict[str, _Slot] = {}
        self._closed = False
        self.after_fork()

    def after_fork(self) -> None:
        """Fresh locks and no background thread (also the initial state)."""
        self._lock = threading.Lock()
        self._stale: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        for slot in self._slots.values():
            slot.refreshing = False
            slot.ready.set()

    def get(self, feature: str) -> Guard:
        """The guard for `feature`, never raising and never waiting longer than `timeout`."""
        if not valid_feature(feature):
            self._log.warning("guard-feature", "fireline: no guard for invalid feature %r", feature)
            return default_guard(str(feature), self._default_level)
        first = False
        with self._lock:
            slot = self._slots.get(feature)
            if slot is None:
                slot = self._slots[feature] = _Slot(default_guard(feature, self._default_level))
                first = not self._closed
                if not first or not self._wait:
                    slot.ready.set()
                if first and not self._wait:
                    first = False  # the default now; the guard comes from the background
                    slot.refreshing = True
                    self._refresh_later(feature)
            elif (
                not self._closed
                and not slot.refreshing
                and slot.ready.is_set()
                and time.monotonic() - slot.checked >= self._ttl
            ):
                slot.refreshing = True
                self._refresh_later(feature)
        if first:
            self._refresh(feature, slot)
        elif not slot.ready.is_set():
            slot.ready.wait(self._timeout)
        return slot.guard

    def prefetch(self, features: Iterable[str]) -> None:
        """Read these features' guards in the background now, so no first read waits."""
        with self._lock:
            if self._closed:
                return
            for feature in features:
                if valid_feature(feature) and feature not in self._slots:
                    slot = _Slot(default_guard(feature, self._default_level))
                    slot.refreshing = True
                    slot.ready.set()  # readers take the default until the guard arrives
                    self._slots[feature] = slot
                    self._refresh_later(feature)

    def close(self) -> None:
        """Stop refreshing; guards read so far are still returned."""
        with self._lock:
            self._closed = True
            self._stale.put(None)

    def _refresh_later(self, feature: str) -> None:
        self._stale.put(feature)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="fireline-sdk-guards", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            feature = self._stale.get()
            if feature is None or self._closed:
                return
            slot = self._slots.get(feature)
            if slot is not None:
                self._refresh(feature, slot)

    def _refresh(self, feature: str, slot: _Slot) -> None:
        try:
            fresh, why = self._fetch(feature)
        except Exception as error:  # pragma: no cover - _fetch catches; belt and braces
            fresh, why = None, f"{type(error).__name__}: {error}"
        with self._lock:
            if fresh is not None:
                slot.guard, slot.known = fresh, True
            else:
                source: Literal["last_known", "default"] = "last_known" if slot.known else "default"
                slot.guard = dataclasses.replace(slot.guard, source=source)
            slot.checked = time.monotonic()
            slot.refreshing = False
        slot.ready.set()
        if fresh is None:  # counted once the fallback is in place, so stats never run ahead
            self._failed(feature, why)

    def _fetch(self, feature: str) -> tuple[Guard | None, str]:
        """The guard fireline gives for `feature`, or None and why not."""
        url = f"{self._base_url}/api/guards/{quote(feature, safe='')}"
        try:
            response = self._http().get(url, headers=self._headers, timeout=self._timeout)
        except Exception as error:
            return None, f"cannot reach fireline ({type(error).__name__}: {error})"
        if response.status_code != 200:
            return None, f"HTTP {response.status_code}: {response.text[:200]}"
        try:
            guard = parse_guard(feature, response.json())
        except ValueError:
            guard = None
        return guard, "the answer is not a guard"

    def _failed(self, feature: str, why: str) -> None:
        error = f"guard of {feature!r} not read: {why}"
        self._outbox.count("guard_failures", error=self._log.mask(error))
        self._log.warning("guard", "fireline: %s; keeping the last known guard", error)
