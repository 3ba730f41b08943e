"""E-mail over SMTP (the standard library's smtplib, in a worker thread), from jinja2 templates per
language whose blocks ``subject`` and ``body`` make the message."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import anyio
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from asterisk_rec.config import MailSettings
from asterisk_rec.errors import AsteriskRecError

log = logging.getLogger(__name__)
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), undefined=StrictUndefined,
                         autoescape=False, keep_trailing_newline=True)


class MailFailed(AsteriskRecError):
    error_id = "mail_failed"


def compose(template: str, language: str, sender: str, to: str, values: dict[str, Any]) -> EmailMessage:
    loaded = _TEMPLATES.get_template(f"{template}.{language if language in ('nl', 'en') else 'nl'}.txt")
    context = loaded.new_context(values)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "".join(loaded.blocks["subject"](context)).strip()
    message.set_content("".join(loaded.blocks["body"](context)).strip() + "\n")
    return message


class Mailer:
    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.user:
                smtp.login(s.user, s.password.reveal())
            smtp.send_message(message)

    async def send(self, template: str, language: str, to: str, values: dict[str, Any]) -> None:
        message = compose(template, language, self.settings.sender, to, values)
        try:
            await anyio.to_thread.run_sync(self._send, message)
        except (OSError, smtplib.SMTPException) as err:
            raise MailFailed(f"cannot send e-mail to {to} through {self.settings.host}:{self.settings.port}: "
                             f"{err}") from err
        log.info("mail %r sent to %s", message["Subject"], to)
