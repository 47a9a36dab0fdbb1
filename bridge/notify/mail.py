"""Email over SMTP: a multipart message (text + HTML, QR code as an inline image).

``smtplib`` errors are translated here: a server that cannot be reached, refuses, or answers
4xx/5xx to the session is :class:`TryAgainLater`; a recipient refused with 5xx is
:class:`InvalidAddress` (the mailbox does not exist; retrying will not help).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from bridge.config import EmailSettings
from bridge.notify.errors import InvalidAddress, TryAgainLater
from bridge.notify.templates import Rendered


def new_cid() -> str:
    """A Content-ID for the QR image (without the angle brackets)."""
    return make_msgid(idstring="qr", domain="lockerbridge.invalid")[1:-1]


def build(
    message: Rendered,
    *,
    sender: str,
    sender_name: str,
    to: str,
    qr_png: bytes | None = None,
    qr_cid: str | None = None,
) -> EmailMessage:
    """multipart/alternative: text/plain, then multipart/related (text/html + image/png)."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = formataddr((sender_name, sender))
    mail["To"] = to
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # RFC 3834: tells autoresponders not to answer.
    mail["Auto-Submitted"] = "auto-generated"
    mail["Content-Language"] = message.language
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    if qr_png is not None and qr_cid is not None:
        html_part = mail.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(
            qr_png,
            maintype="image",
            subtype="png",
            cid=f"<{qr_cid}>",
            filename="locker-code.png",
            disposition="inline",
        )
    return mail


class SmtpMailer:
    """Sends one message per connection (messages are few; a fresh session is simplest)."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    def send(self, mail: EmailMessage, to: str) -> None:
        """Raises TryAgainLater or InvalidAddress."""
        s = self.settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as smtp:
                smtp.ehlo()
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(mail, from_addr=s.sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise InvalidAddress(
                    f"the mail server refused the patron's address ({codes[0]})"
                ) from exc
            raise TryAgainLater(f"the mail server deferred the recipient ({codes})") from exc
        except smtplib.SMTPResponseException as exc:
            detail = (
                exc.smtp_error.decode("utf-8", "replace")[:200]
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)[:200]
            )
            raise TryAgainLater(
                f"the mail server {s.host}:{s.port} refused: {exc.smtp_code} {detail}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Connection refused, timed out, dropped, STARTTLS unsupported, TLS failure.
            raise TryAgainLater(
                f"the mail server {s.host}:{s.port} could not be used: {type(exc).__name__}: {exc}"
            ) from exc
