"""fireline's SDK for AI apps: report every AI call, and obey the feature's guard.

It imports only the standard library and httpx, never blocks the app for the network and
never raises into it: calls are queued in memory and sent in batches by a daemon thread.

>>> from fireline.sdk import FirelineClient
>>> client = FirelineClient("http://127.0.0.1:8000", "fl_token", enabled=False)
>>> @client.observe("support-bot", model="gpt-4o")
... def answer(question: str) -> str:
...     return "It is 42."
>>> if client.should_call_model("support-bot"):
...     reply = answer("What is the answer?")
>>> if client.guard("support-bot").level == 2:  # human review: hold the reply for a person
...     reply = client.review("support-bot", "What?", reply, fallback="We will answer.").output
>>> client.close()
True

See docs/sdk.md for the guide.
"""

from fireline.sdk._canary import new_canary
from fireline.sdk._client import FirelineClient
from fireline.sdk._guards import ContainmentLevel, Guard
from fireline.sdk._outbox import Stats
from fireline.sdk._record import CallRecord, current_call
from fireline.sdk._review import ReviewOutcome

__all__ = [
    "CallRecord",
    "ContainmentLevel",
    "FirelineClient",
    "Guard",
    "ReviewOutcome",
    "Stats",
    "current_call",
    "new_canary",
]
