"""Fixtures for the browser suite: the built site served on 127.0.0.1, and Debian's Chromium.

The site is built once per session (``built_site`` in tests/conftest.py, shared with
tests/test_site.py; ``$HANDBOOK_SITE_DIR`` reuses an already built site), served by a
threaded ``http.server`` on a free port (gzip, like a static host), and driven with Playwright
for Python through ``/usr/bin/chromium`` (``scripts/setup.sh`` installs it with apt-get; never
``playwright install``).  Screenshots go to ``build/screenshots/``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsersite import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    QuietServer,
    StaticHandler,
)
from pagefacts import WEIGHTS, PageFacts


@pytest.fixture(scope="session")
def site_dir(built_site: Path) -> Path:
    return built_site  # tests/conftest.py: one strict build per session


@pytest.fixture(scope="session")
def base_url(site_dir: Path) -> Iterator[str]:
    handler = functools.partial(StaticHandler, directory=str(site_dir))
    server = QuietServer(("127.0.0.1", 0), handler)  # port 0: a free port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} not found: run scripts/setup.sh (apt-get install chromium "
            "fonts-wqy-microhei) or set HANDBOOK_CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser, base_url: str):
    """A fresh browser profile (empty cache and storage) per test."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def facts(browser, base_url: str) -> PageFacts:
    """Every page's facts, each page loaded once (in a fresh profile) when first asked."""
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    return PageFacts(browser, base_url)
