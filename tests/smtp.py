"""A real mail server for the tests: aiosmtpd's `Controller` on 127.0.0.1, on a free port.

It keeps every message it accepted with its envelope recipients and Subject, and can be told to
misbehave the way real mail servers do: refuse one recipient (550 at RCPT TO) until told to accept
it again, or drop one connection (close the transport in the middle of DATA, once). The product
reaches it through its own mail settings (Django's SMTP backend, EMAIL_HOST / EMAIL_PORT), so the
whole path — the outbox, Django's backend, smtplib, the socket — is the one production uses."""

import threading
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One message the server accepted: its envelope recipients and its Subject."""

    recipients: tuple[str, ...]
    subject: str
    body: str


class _Handler:
    def __init__(self, server: "MailServer"):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's hook name
        with self.server.lock:
            if address.lower() in self.server.refusing:
                self.server.refused.append(address)
                return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.server.lock:
            if self.server.drops_left > 0:
                self.server.drops_left -= 1
                self.server.dropped.append(tuple(envelope.rcpt_tos))
                # The client has sent its message and waits for "250": it gets a closed socket.
                server.transport.close()
                return "421 4.4.2 connection dropped"
            message = message_from_bytes(envelope.original_content or envelope.content)
            subject = str(make_header(decode_header(message.get("Subject", ""))))
            payload = message.get_payload(decode=True) if not message.is_multipart() else b""
            self.server.messages.append(
                Received(
                    recipients=tuple(envelope.rcpt_tos),
                    subject=subject,
                    body=(payload or b"").decode(message.get_content_charset() or "utf-8", errors="replace"),
                )
            )
        return "250 2.0.0 queued"


class _AnyPortController(Controller):
    """aiosmtpd's Controller on port 0: the system picks a free port, read back before the
    controller's own start-up check connects to it (no race with another test run)."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailServer:
    """A running aiosmtpd server; `point(settings)` makes the product send to it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.refusing: set[str] = set()
        self.refused: list[str] = []
        self.drops_left = 0
        self.dropped: list[tuple[str, ...]] = []
        self.controller = _AnyPortController(_Handler(self), hostname="127.0.0.1", port=0)

    def start(self) -> "MailServer":
        self.controller.start()
        self.port = self.controller.port
        return self

    def stop(self) -> None:
        self.controller.stop()

    def point(self, settings) -> None:
        """Send the product's mail here (pytest-django's `settings` fixture restores them after)."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", self.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 10

    def refuse(self, address: str) -> None:
        """Answer 550 at RCPT TO for this address until `accept(address)`."""
        with self.lock:
            self.refusing.add(address.lower())

    def accept(self, address: str) -> None:
        with self.lock:
            self.refusing.discard(address.lower())

    def drop_next_connection(self) -> None:
        """Close the next connection in the middle of DATA, once."""
        with self.lock:
            self.drops_left += 1

    def subjects(self, to: str | None = None) -> list[str]:
        """The subjects received, in order; with `to`, only those sent to that address."""
        with self.lock:
            return [m.subject for m in self.messages if to is None or to in m.recipients]

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.recipients]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
