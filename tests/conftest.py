"""Shared test setup: `gpu` tests skip themselves without CUDA; plots render off-screen;
one strict build of the site serves both the site checks and the browser suite."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="gpu test: no CUDA device on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The site built once per session with ``mkdocs build --strict`` (zero warnings).

    ``$HANDBOOK_SITE_DIR`` names an already built site to reuse instead.  Pages are run
    (tests/test_pages.py) before the first test that needs the build, so the build's
    "verified" stamps come from this session's runs.
    """
    given = os.environ.get("HANDBOOK_SITE_DIR")
    if given:
        return Path(given)
    target = ROOT / "build" / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(target)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert not warnings, "\n".join(warnings)
    print(f"\nsite built in {time.perf_counter() - start:.1f} s")
    return target
