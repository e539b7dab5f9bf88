"""Canary tokens: unique strings an app puts in its system prompt to see it leak."""

from __future__ import annotations

import secrets

#: Keep in step with `fireline.scan.leaks.CANARY_PATTERN`, which finds these in answers.
_PREFIX = "FLCANARY-"


def new_canary() -> str:
    """A fresh canary token to embed in a system prompt; fireline reports any answer showing it.

    The token is random (64 bits), so it never occurs in an answer by chance: an answer that
    contains it has disclosed the system prompt. fireline's `prompt_leak` scanner finds
    tokens of this form with no configuration.

    >>> token = new_canary()
    >>> token.startswith("FLCANARY-") and len(token) == 25
    True
    """
    return _PREFIX + secrets.token_hex(8)
