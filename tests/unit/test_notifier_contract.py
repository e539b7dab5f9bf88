"""One contract for every notifier, found automatically in the `fireline.notify` package.

Each is checked against real receivers on loopback (an HTTP server that answers like Slack,
PagerDuty or a signed webhook receiver, and an SMTP server): it delivers its example in the
documented format, says whether a refusal is worth a retry, and never shows its secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fireline.config import parse_config
from fireline.domain.severity import Severity
from fireline.errors import ConfigError
from fireline.notify.base import DeliveryError, Receivers
from fireline.notify.config import channel_types
from fireline.notify.message import Event, Link, Message
from fireline.notify.registry import build_notifiers, notifier_classes
from tests.receivers import HttpReceiver, SmtpRecorder, smtp_server
from tests.servers import free_port, serving

NOTIFIERS = [notifier_classes()[kind] for kind in sorted(notifier_classes())]
#: Slack incoming webhooks have no field for an idempotency key: Slack cannot deduplicate.
CARRIES_NO_KEY = {"slack"}
#: A channel of each type as a user writes it, secrets in the environment.
CONFIGS = {
    "slack": "{type: slack, url_env: T_SLACK_URL}",
    "pagerduty": "{type: pagerduty, routing_key_env: T_PD_KEY}",
    "email": "{type: email, host: localhost, sender: f@example.com, to: [o@example.com]}",
    "webhook": "{type: webhook, url: 'https://example.com/h', secret_env: T_HOOK_SECRET}",
}
ENV = {
    "T_SLACK_URL": "https://example.com/services/T/B/slack-secret-token",
    "T_PD_KEY": "pd-secret-routing-key-0123456789",
    "T_HOOK_SECRET": "hook-secret-value",
}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def a_message(key: str = "msg_0123456789abcdef") -> Message:
    return Message(
        event=Event.INCIDENT_OPENED,
        title="support-bot error rate up <!channel> & more",
        body="Error rate 60% (baseline 1%) since 09:00.",
        severity=Severity.P1,
        incident_id=7,
        feature="support-bot",
        correlation_key="fireline-incident-7",
        links=(Link("https://fireline.example.com/api/incidents/7", "incident"),),
        created_at=T0,
        idempotency_key=key,
    )


@pytest.fixture(scope="module")
def http() -> Iterator[tuple[HttpReceiver, str]]:
    receiver = HttpReceiver()
    with serving(receiver.app()) as url:
        yield receiver, url


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[SmtpRecorder, int]]:
    with smtp_server() as (recorder, port):
        yield recorder, port


@pytest.fixture
def receivers(http, smtp) -> Iterator[Receivers]:
    http[0].fail_with, smtp[0].reply = None, None
    yield Receivers(http[1], "127.0.0.1", smtp[1])
    http[0].fail_with, smtp[0].reply = None, None


@pytest.fixture(params=NOTIFIERS, ids=lambda cls: cls.kind)
def notifier_class(request):
    return request.param


def deliveries(http, smtp) -> list[bytes]:
    """Everything the receivers took, raw: request heads and bodies, whole mails."""
    requests = [repr(r.headers).encode() + r.body for r in http[0].requests]
    return requests + [m.message.as_bytes() for m in smtp[0].mails]


def secrets_of(notifier) -> list[str]:
    """A notifier keeps its credentials in private attributes."""
    return [v for k, v in vars(notifier).items() if k.startswith("_") and isinstance(v, str)]


def test_there_is_a_notifier_for_every_channel_type_and_the_four_the_issue_names():
    assert set(notifier_classes()) == channel_types() == {"slack", "pagerduty", "email", "webhook"}


def test_every_channel_type_is_built_from_the_file_with_its_secret_from_the_environment():
    assert set(CONFIGS) == channel_types()
    text = "notifications:\n  channels:\n" + "".join(
        f"    {kind}-main: {line}\n" for kind, line in CONFIGS.items()
    )
    settings = parse_config(text).notifications

    built = build_notifiers(settings, ENV)

    assert {name: n.kind for name, n in built.items()} == {f"{k}-main": k for k in CONFIGS}
    for name, notifier in built.items():
        assert notifier.channel == name
        assert not any(secret in repr(notifier) for secret in ENV.values())


@pytest.mark.parametrize("kind", ["slack", "pagerduty", "webhook"])
def test_a_secret_missing_from_the_environment_is_named_not_guessed(kind):
    text = f"notifications:\n  channels:\n    x: {CONFIGS[kind]}\n"
    settings = parse_config(text).notifications

    with pytest.raises(ConfigError, match=r"variable T_\w+ is not set"):
        build_notifiers(settings, {})


def test_a_notifier_delivers_its_example_in_the_documented_format(
    notifier_class, receivers, http, smtp
):
    before = len(deliveries(http, smtp))

    notifier_class.example(receivers).send(a_message())

    new = deliveries(http, smtp)[before:]
    assert len(new) == 1  # the receiver checked the format and answered success
    if notifier_class.kind not in CARRIES_NO_KEY:
        assert b"msg_0123456789abcdef" in new[0] or b"fireline-incident-7" in new[0]


def test_a_bare_message_is_delivered_too(notifier_class, receivers):
    bare = Message(event=Event.TEST, title="test", body="", idempotency_key="msg_bare")

    notifier_class.example(receivers).send(bare)


def test_a_receiver_that_is_down_is_worth_a_retry(notifier_class):
    closed = free_port()
    notifier = notifier_class.example(Receivers(f"http://127.0.0.1:{closed}", "127.0.0.1", closed))

    with pytest.raises(DeliveryError) as raised:
        notifier.send(a_message())

    assert raised.value.retryable
    assert not any(secret in str(raised.value) for secret in secrets_of(notifier))


@pytest.mark.parametrize(
    ("status", "reply", "retryable"),
    [
        (503, "451 4.3.0 Try again later", True),
        (429, "421 4.7.0 Too many connections", True),
        (400, "550 5.1.1 No such mailbox", False),
        (404, "554 5.7.1 Rejected", False),
    ],
    ids=["unavailable", "throttled", "bad request", "refused"],
)
def test_a_refusal_says_whether_trying_later_may_help(
    notifier_class, receivers, http, smtp, status, reply, retryable
):
    http[0].fail_with, smtp[0].reply = status, reply
    notifier = notifier_class.example(receivers)

    with pytest.raises(DeliveryError) as raised:
        notifier.send(a_message())

    assert raised.value.retryable is retryable
    assert not any(secret in str(raised.value) for secret in secrets_of(notifier))


def test_a_notifier_never_shows_its_secrets(notifier_class, receivers):
    notifier = notifier_class.example(receivers)

    shown = repr(notifier) + str(notifier)

    assert not any(secret in shown for secret in secrets_of(notifier))


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "notifications:\n  channels:\n    h: {type: webhook, url: 'https://x', secret: s}\n",
            3,
            "secret_env: Field required",
        ),
        (
            "notifications:\n  channels:\n    s: {type: slack, url_env: U}\n"
            "  routes:\n    - channels: [nope]\n",
            4,
            "no channel named 'nope'",
        ),
        (
            "notifications:\n  channels:\n    s: {type: slack, url: 'https://x', url_env: U}\n",
            3,
            "exactly one of url and url_env",
        ),
        ("notifications:\n  channels:\n    s: {type: fax}\n", 3, "'slack'"),
        ("notifications:\n  people:\n    bob: [{channel: pager}]\n", 2, "no channel named 'pager'"),
    ],
    ids=["secret in the file", "unknown channel", "two urls", "unknown type", "unknown contact"],
)
def test_a_bad_notifications_section_is_refused_with_its_line(text, line, words):
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="fireline.yaml")

    assert raised.value.line == line
    assert words in str(raised.value)
