"""Building the paging service from a deployment, until the composition root does it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from fireline.oncall.links import ack_key
from fireline.oncall.service import PageSender, PagingService
from fireline.store.state import IN_MEMORY

if TYPE_CHECKING:
    from fireline.runtime import Fireline

# An in-memory deployment signs with a random key that must outlive one request.
_keys: WeakKeyDictionary[Fireline, bytes] = WeakKeyDictionary()
_keys_lock = threading.Lock()


def link_key(instance: Fireline) -> bytes:
    """The deployment's key for acknowledgement links (a file in its data directory)."""
    with _keys_lock:
        key = _keys.get(instance)
        if key is None:
            in_memory = instance.state.url in IN_MEMORY
            key = ack_key(None if in_memory else instance.settings.data_dir)
            _keys[instance] = key
        return key


def paging_for(instance: Fireline, sender: PageSender | None = None) -> PagingService:
    """The deployment's paging service (through its notifications outbox), or one delivering
    pages with `sender`."""
    if sender is None:
        return instance.paging
    return PagingService(
        instance.config.oncall, key=link_key(instance), clock=instance.clock, sender=sender
    )
