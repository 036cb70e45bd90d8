"""Shared test setup: `gpu` tests skip themselves without CUDA; plots render off-screen;
one strict build of the site serves both the site checks and the browser suite."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from hooks.verified import unverified_pages

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("MPLBACKEND", "Agg")

# Under pytest-xdist (`-n`, see pyproject.toml) the test processes share the cores: each
# one, and every process it starts (torchrun, mkdocs), gets its share of threads, since
# more busy threads than cores make PyTorch's OpenMP threads spin-wait on each other.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    threads = max(1, (cores or os.cpu_count() or 1) // WORKERS)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)

# A fixture shared by many tests is set up once per test process: tests that use one of
# these run in the same process (xdist's loadgroup), so its launches happen once.  The
# browser suite's `facts` loads a page when a test first asks for it: the tests of one
# page run together, and different pages go to different processes.
SHARED_FIXTURE_GROUPS = {
    "single_run": "torchrun-runs",
    "ddp_run": "torchrun-runs",
    "fsdp_run": "torchrun-runs",
}


def _group(item: pytest.Item) -> str | None:
    names = getattr(item, "fixturenames", ())
    if "facts" in names and hasattr(item, "callspec"):
        return "page-" + "/".join(item.callspec.params[k] for k in ("lang", "page"))
    return next((g for f, g in SHARED_FIXTURE_GROUPS.items() if f in names), None)


def _order(item: pytest.Item) -> tuple:
    """Page runs first (largest page first: the runs the site build needs, and the
    longest ones start early), then the rest, then everything that needs the built site;
    one test of those moves up to just after the page runs, so the build starts while
    the other test processes still have unit tests to run."""
    if item.path.name == "test_pages.py" and hasattr(item, "callspec"):
        page = ROOT / "docs" / "zh" / item.callspec.params["chapter"]
        return (0, -page.stat().st_size)
    if "built_site" in getattr(item, "fixturenames", ()):
        return (3, 0)
    return (2, 0)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    items.sort(key=_order)  # stable: file order within each rank
    builds = [i for i in items if "built_site" in getattr(i, "fixturenames", ())]
    if builds and _order(items[0])[0] == 0:  # the first site test right after the pages
        items.remove(builds[0])
        items.insert(sum(_order(i)[0] == 0 for i in items), builds[0])
    for item in items:
        if group := _group(item):
            item.add_marker(pytest.mark.xdist_group(group))
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
    for chapter in chapters:  # skipped if another test process verified it meanwhile
        run_chapter(
            ROOT / "docs" / "zh" / chapter,
            ROOT / "docs" / "en" / chapter,
            unless_verified=True,
        )


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The site built once per session with ``mkdocs build --strict`` (zero warnings), as
    for publishing (``HANDBOOK_REQUIRE_VERIFIED=1``: a missing or stale stamp fails it).

    ``$HANDBOOK_SITE_DIR`` names an already built site to reuse instead.  Pages whose run
    record is missing or stale are run first (tests/test_pages.py usually ran them already
    in this session), so the stamps never depend on the order tests run in.  The test
    processes of one xdist run share one build: the first one builds under a lock, the
    others wait for it and find the run's id next to the site.
    """
    given = os.environ.get("HANDBOOK_SITE_DIR")
    if given:
        return Path(given)
    target = ROOT / "build" / "site"
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # the same in every process
    built_by = target.with_name("site.run-id")
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.with_name("site.lock")):
        if run_id and built_by.is_file() and built_by.read_text() == run_id:
            return target
        built_by.unlink(missing_ok=True)
        _build_site(target)
        if run_id:
            built_by.write_text(run_id)
    return target


def _build_site(target: Path) -> None:
    verify_stale_pages()
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
