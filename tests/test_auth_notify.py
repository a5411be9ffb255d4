"""The optional mail to the administrator (auth/notify.py), against a small SMTP server run
by the test on the loopback: nothing sent without SMTP_HOST; the mail names the request and
the console, never a password."""
from __future__ import annotations

import socketserver
import threading

import pytest

from auth.notify import notify_password_request, smtp_configured


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough of SMTP for smtplib: every command accepted, DATA kept."""

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.strip().upper()
            if command.startswith(b"DATA"):
                self.wfile.write(b"354 go\r\n")
                body = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(chunk)
                self.server.messages.append(b"".join(body).decode("utf-8", "replace"))
                self.wfile.write(b"250 queued\r\n")
            elif command.startswith(b"QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_nothing_sent_without_smtp():
    assert not smtp_configured({})
    assert notify_password_request("marie.dupont", "127.0.0.1", "https://portail", env={}) is None


def test_mail_to_the_administrator(smtp_server):
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.server_address[1]),
           "SMTP_FROM": "portail@lillemetropole.fr",
           "PORTAIL_ADMIN_EMAIL": "administrateur.portail@lillemetropole.fr"}
    thread = notify_password_request("marie.dupont", "192.0.2.7", "https://portail.example",
                                     env=env)
    thread.join(timeout=30)
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert "To: administrateur.portail@lillemetropole.fr" in mail
    assert "marie.dupont" in mail and "https://portail.example/admin/" in mail
    assert "mot de passe" in mail.lower()
