"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for the page checks.

Playwright's own browser download cannot run on a closed network; it drives the system
Chromium instead. The flags keep Chromium from calling Google's hosts at start.
Every request leaving for a host other than the portal's is recorded, so that a test can
assert that a page works on a closed network.
"""
from __future__ import annotations

import base64
import shutil
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def _record(page, live_server):
    """Record outside requests and console errors on ``page``."""
    portal = urlsplit(live_server).netloc
    page.outside_requests = []
    page.console_errors = []

    def _request(request):
        netloc = urlsplit(request.url).netloc
        if request.url.startswith(("data:", "blob:")) or netloc == portal:
            return
        page.outside_requests.append(request.url)

    page.on("request", _request)
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    return page


def basic_auth_header(account) -> dict:
    """The Basic header for a browser context (``extra_http_headers``): a page opened
    without credentials is sent to the login form (auth/gate.py), so the Basic challenge
    that Playwright's ``http_credentials`` waits for never comes."""
    login, password = account
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


@pytest.fixture
def anonymous_page(chromium, live_server):
    """A page without credentials (the home page, the login form, the web session), that
    records outside requests and console errors like ``browser_page``."""
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    page = _record(context.new_page(), live_server)
    yield page
    context.close()


@pytest.fixture
def browser_page(chromium, live_server, account):
    """A logged-in page (HTTP basic credentials) that records outside requests and console
    errors in ``page.outside_requests`` and ``page.console_errors``."""
    context = chromium.new_context(extra_http_headers=basic_auth_header(account),
                                   locale="fr-FR", viewport={"width": 1280, "height": 800})
    page = _record(context.new_page(), live_server)
    yield page
    context.close()
