"""Optional e-mail to the administrator when someone asks for a new password.

Configured by the environment only when an SMTP server exists: ``SMTP_HOST`` (nothing is
sent without it), ``SMTP_PORT`` (25), ``SMTP_STARTTLS`` (``1`` to upgrade), ``SMTP_USER``
and ``SMTP_PASSWORD`` / ``SMTP_PASSWORD_FILE`` (optional), ``SMTP_FROM`` and
``PORTAIL_ADMIN_EMAIL`` (the administrator's address). The mail says that a request waits
in the console; it carries no password (passwords are handed over by the administrator).
Sent from a thread: the form's answer neither waits for nor depends on the mail server.
"""
from __future__ import annotations

import logging
import os
import smtplib
import threading
from email.message import EmailMessage
from pathlib import Path

LOGGER = logging.getLogger(__name__)


def smtp_configured(env=os.environ) -> bool:
    return bool(env.get("SMTP_HOST") and env.get("PORTAIL_ADMIN_EMAIL"))


def password_request_message(identifier: str, address: str, public_url: str,
                             env=os.environ) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Portail LLS : demande de mot de passe"
    message["From"] = env.get("SMTP_FROM") or f"portail-lls@{env.get('SMTP_HOST')}"
    message["To"] = env["PORTAIL_ADMIN_EMAIL"]
    message.set_content(
        f"Une demande de nouveau mot de passe a été enregistrée (saisie : {identifier!r}, "
        f"adresse {address}).\n\nElle attend dans la console d'administration : "
        f"{public_url}/admin/\n\nVérifiez l'identité du demandeur avant de lui remettre un "
        "mot de passe.\n")
    return message


def send(message: EmailMessage, env=os.environ) -> None:
    password = env.get("SMTP_PASSWORD")
    if not password and env.get("SMTP_PASSWORD_FILE"):
        password = Path(env["SMTP_PASSWORD_FILE"]).read_text(encoding="utf-8").strip()
    with smtplib.SMTP(env["SMTP_HOST"], int(env.get("SMTP_PORT") or 25), timeout=20) as smtp:
        if env.get("SMTP_STARTTLS") == "1":
            smtp.starttls()
        if env.get("SMTP_USER"):
            smtp.login(env["SMTP_USER"], password or "")
        smtp.send_message(message)


def notify_password_request(identifier: str, address: str, public_url: str,
                            env=os.environ) -> threading.Thread | None:
    """Mail the administrator in the background, if SMTP is configured."""
    if not smtp_configured(env):
        return None
    message = password_request_message(identifier, address, public_url, env)

    def _run():
        try:
            send(message, env)
        except (OSError, smtplib.SMTPException) as exc:
            LOGGER.warning("password request mail not sent: %s", type(exc).__name__)

    thread = threading.Thread(target=_run, name="password-request-mail", daemon=True)
    thread.start()
    return thread
