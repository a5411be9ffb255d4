"""State of the demo install: is data there, what is the demo account's password."""
from __future__ import annotations

import os

from auth.passwords import generate_password
from portail.db import connect
from portail.settings import Settings


def published_communes(settings: Settings) -> int:
    with connect(settings.owner_dsn()) as conn:
        return conn.execute("SELECT count(*) FROM diffusion.commune").fetchone()[0]


def demo_password(settings: Settings) -> str:
    """The demo account's password: generated once, kept 0600 in the state folder."""
    path = settings.state_dir / "demo-password"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        password = generate_password()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        return password
