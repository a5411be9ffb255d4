"""The browser's session: a signed cookie (Flask's session, itsdangerous), CSRF (flask-wtf).

- The signing key lives in the state folder (``<state_dir>/session.key``, 0600, made on
  first use by whichever worker comes first), or comes from ``SESSION_SECRET_KEY`` /
  ``SESSION_SECRET_KEY_FILE`` (several replicas must share it).
- The cookie is ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the portal is served over
  TLS (``PORTAIL_URL`` in https), and lives as long as the browser: the server ends the
  session after ``SESSION_IDLE_MINUTES`` (30 by default) without a request.
- The session holds the login, a stamp of the password's last change (a new password,
  set by the user or the administrator, ends every other session) and the time of the
  last request; the account's rules are checked again on each request (through the
  gate's cache, invalidated by the register's notifications).
- Every unsafe request that does not carry HTTP basic credentials needs the CSRF token
  (the forms' hidden field, or the ``X-CSRFToken`` header the map sends): a form or a
  script on another site cannot act with the user's cookie.
"""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask, session
from flask_wtf.csrf import CSRFProtect

IDLE_MINUTES_ENV = "SESSION_IDLE_MINUTES"
KEY_ENV = "SESSION_SECRET_KEY"
COOKIE_NAME = "portail_session"
# The session's last-seen time is rewritten at most this often (one Set-Cookie a minute,
# not one per map tile).
TOUCH_SECONDS = 60
# A session ends after this long whatever its activity: a copied cookie replayed within
# the idle timeout does not live for ever (the cookie is the whole session).
MAX_SESSION_SECONDS = 12 * 3600

csrf = CSRFProtect()


def session_key(state_dir: Path) -> bytes:
    """The key that signs the cookies: from the environment, or kept in the state folder."""
    given = os.environ.get(KEY_ENV)
    if not given and os.environ.get(f"{KEY_ENV}_FILE"):
        given = Path(os.environ[f"{KEY_ENV}_FILE"]).read_text(encoding="utf-8").strip()
    if given:
        return given.encode()
    path = Path(state_dir) / "session.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):   # another worker is writing it: wait for its content
            key = path.read_bytes().strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty") from None
    key = secrets.token_urlsafe(48).encode()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def idle_seconds() -> int:
    try:
        return max(60, int(float(os.environ.get(IDLE_MINUTES_ENV, "30")) * 60))
    except ValueError:
        return 1800


def configure(app: Flask, state_dir: Path, public_url: str) -> None:
    """Cookie settings, the signing key and CSRF on the app (called by the gate's install)."""
    app.secret_key = session_key(state_dir)
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=public_url.startswith("https://"),
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_CHECK_DEFAULT=False,   # the gate decides which requests need the token
        WTF_CSRF_TIME_LIMIT=None,       # the token lives as long as the session
        WTF_CSRF_FIELD_NAME="csrf_token",
    )
    csrf.init_app(app)


def password_stamp(changed_at) -> str:
    return changed_at.isoformat() if changed_at is not None else ""


def start(login: str, changed_at, must_change: bool = False) -> None:
    """A new session for this login (a fresh cookie: no fixation of an earlier one)."""
    session.clear()
    now = int(time.time())
    session["login"] = login
    session["pwd"] = password_stamp(changed_at)
    session["depuis"] = now
    session["vu"] = now
    if must_change:
        session["changer"] = True


def end() -> None:
    session.clear()


def current() -> dict | None:
    """The signed-in session (login, stamp, flags), or None; ends it when idle too long."""
    login = session.get("login")
    if not login:
        return None
    now = int(time.time())
    if now - int(session.get("vu", 0)) > idle_seconds() \
            or now - int(session.get("depuis", 0)) > MAX_SESSION_SECONDS:
        session.clear()
        session["expiree"] = True
        return None
    if now - int(session.get("vu", 0)) >= TOUCH_SECONDS:
        session["vu"] = now
    return {"login": login, "pwd": session.get("pwd", ""),
            "must_change": bool(session.get("changer"))}
