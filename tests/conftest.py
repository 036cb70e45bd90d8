"""Shared test setup: `gpu` tests skip themselves without CUDA; plots render off-screen;
one strict build of the site serves both the site checks and the browser suite."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hooks.verified import unverified_pages

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="gpu test: no CUDA device on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


def verify_stale_pages() -> None:
    """Run (zh, then en in the same directory) every chapter with an unverified page."""
    from pagecheck import run_chapter

    chapters = sorted(
        {line.split(":")[0].split("/", 1)[1] for line in unverified_pages()}
    )
    for chapter in chapters:
        run_chapter(ROOT / "docs" / "zh" / chapter, ROOT / "docs" / "en" / chapter)


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The site built once per session with ``mkdocs build --strict`` (zero warnings), as
    for publishing (``HANDBOOK_REQUIRE_VERIFIED=1``: a missing or stale stamp fails it).

    ``$HANDBOOK_SITE_DIR`` names an already built site to reuse instead.  Pages whose run
    record is missing or stale are run first (tests/test_pages.py usually ran them already
    in this session), so the stamps never depend on the order tests run in.
    """
    given = os.environ.get("HANDBOOK_SITE_DIR")
    if given:
        return Path(given)
    verify_stale_pages()
    target = ROOT / "build" / "site"
    # Built as for publishing: every page must be verified for exactly this content.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HANDBOOK_REQUIRE_VERIFIED": "1"}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert not warnings, "\n".join(warnings)
    print(f"\nsite built in {time.perf_counter() - start:.1f} s")
    return target
