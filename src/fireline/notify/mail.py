"""E-mail over SMTP (smtplib): plain text, threaded per incident, one Message-ID per message."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime
from typing import ClassVar, Literal

from fireline.notify.base import DeliveryError, Receivers, secret_from
from fireline.notify.config import EmailChannel
from fireline.notify.message import Message

MAIL_DOMAIN = "fireline.invalid"  # Message-IDs only need to be unique, not routable


def message_id(key: str) -> str:
    """A Message-ID that is the same on every retry, so mail systems can drop duplicates."""
    return f"<{key}@{MAIL_DOMAIN}>"


class EmailNotifier:
    """Sends through one SMTP server; 4xx replies and lost connections are worth a retry."""

    kind: ClassVar[str] = "email"

    def __init__(
        self,
        channel: str,
        *,
        host: str,
        port: int,
        sender: str,
        to: tuple[str, ...] = (),
        tls: Literal["none", "starttls", "ssl"] = "none",
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10,
    ) -> None:
        self.channel = channel
        self.host = host
        self.port = port
        self.sender = sender
        self.to = to
        self.tls = tls
        self.username = username
        self._password = password  # never logged, never in repr
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(
        cls, channel: str, settings: EmailChannel, env: Mapping[str, str]
    ) -> EmailNotifier:
        password = None
        if settings.password_env is not None:
            password = secret_from(env, settings.password_env, channel=channel, what="password")
        return cls(
            channel,
            host=settings.host,
            port=settings.port,
            sender=settings.sender,
            to=settings.to,
            tls=settings.tls,
            username=settings.username,
            password=password,
            timeout_s=settings.timeout_s,
        )

    @classmethod
    def example(cls, receivers: Receivers) -> EmailNotifier:
        return cls(
            "email-example",
            host=receivers.smtp_host,
            port=receivers.smtp_port,
            sender="fireline@example.com",
            to=("oncall@example.com",),
        )

    def __repr__(self) -> str:
        return f"EmailNotifier(channel={self.channel!r}, host={self.host!r}, port={self.port})"

    def compose(self, message: Message) -> EmailMessage:
        """The e-mail: subject from the title, text body, links below it."""
        recipients = message.to or self.to
        if not recipients:
            raise DeliveryError(f"email {self.channel}: no recipient", retryable=False)
        mail = EmailMessage()
        mail["Subject"] = " ".join(message.title.split())  # no line breaks in a header
        mail["From"] = self.sender
        mail["To"] = ", ".join(recipients)
        if message.idempotency_key:
            mail["Message-ID"] = message_id(message.idempotency_key)
        if message.correlation_key:
            # Every message about one incident lands in one thread.
            mail["References"] = message_id(message.correlation_key)
            mail["In-Reply-To"] = message_id(message.correlation_key)
        if message.created_at is not None:
            mail["Date"] = format_datetime(message.created_at)
        mail["X-Fireline-Event"] = message.event.value
        links = "".join(f"\n{link.text}: {link.href}" for link in message.links)
        mail.set_content(f"{message.body}\n{links}".rstrip() + "\n")
        return mail

    def send(self, message: Message) -> None:
        mail = self.compose(message)
        try:
            with self._connect() as smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise DeliveryError(
                f"email {self.channel}: every recipient refused ({codes})",
                retryable=all(400 <= code < 500 for code in codes),
            ) from None
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"email {self.channel}: SMTP {error.smtp_code} {_text(error.smtp_error)}",
                retryable=400 <= error.smtp_code < 500,
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"email {self.channel}: cannot deliver ({type(error).__name__}: {error})",
                retryable=True,
            ) from None
        if refused:  # some took it: retrying would send the others a duplicate
            raise DeliveryError(
                f"email {self.channel}: refused for {sorted(refused)}", retryable=False
            )

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout_s,
                context=ssl.create_default_context(),
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
