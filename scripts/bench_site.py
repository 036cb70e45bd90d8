"""Benchmark the site build as a writer meets it; prints JSON.

Works on a copy of the working tree (tracked and untracked files, not ``build/`` or
``site/``; ``--ref HEAD`` copies a commit instead), so edits and caches never touch the
repository:

* ``cold``: first build, no notebook or figure cache;
* ``warm``: the same build again, nothing changed;
* ``page_edit``: a new ``mkdocs build`` after one page is edited;
* ``serve_reload``: under ``mkdocs serve``, from saving a page to the server telling the
  browser to reload (median of three saves; what a writer waits for);
* ``snippet_edit``: after a ``snippets`` module is edited (the figures, notebooks and
  pages that reach it are redone, nothing else).

Usage: ``.venv/bin/python scripts/bench_site.py [--page en/practice.md]
[--snippet snippets/models/simplenet.py] [--skip-cold]``.  Builds run with ``--strict``
into a scratch ``site``; each figure is seconds of wall time for one build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {
    ".git",
    ".venv",
    "node_modules",
    "build",
    "site",
    ".pytest_cache",
    "__pycache__",
}


def copy_tree(target: Path, ref: str | None = None) -> None:
    if ref is not None:
        archive = subprocess.run(
            ["git", "archive", ref], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        (target / "node_modules").symlink_to(ROOT / "node_modules")
        return
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if SKIP & set(Path(name).parts) or not source.is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    (target / "node_modules").symlink_to(ROOT / "node_modules")


def build(project: Path) -> float:
    # The copy's own snippets package, also in the notebook kernels (not the editable one).
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(project)}
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-d",
            str(project / "site"),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"build failed in {project}:\n{result.stderr[-3000:]}")
    return round(elapsed, 1)


def serve_reload(project: Path, page: Path, saves: int = 3) -> float:
    """Median seconds from saving ``page`` to ``mkdocs serve`` reloading the browser."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(project)}
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def read() -> None:
        for line in server.stdout:
            lines.put((time.perf_counter(), line))

    def wait_for(text: str) -> float:
        while True:
            try:
                when, line = lines.get(timeout=300)
            except queue.Empty:
                sys.exit(f"mkdocs serve never logged {text!r}")
            if text in line:
                return when

    threading.Thread(target=read, daemon=True).start()
    original = page.read_text(encoding="utf-8")
    times = []
    try:
        wait_for("Serving on")
        for save in range(saves):
            time.sleep(1.0)  # let the watcher settle
            start = time.perf_counter()
            page.write_text(original + f"\nSaved {save}.\n", encoding="utf-8")
            times.append(wait_for("Reloading browsers") - start)
    finally:
        server.terminate()
        server.wait(timeout=30)
        page.write_text(original, encoding="utf-8")
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--page", default="en/practice.md", help="page edited (docs/...)"
    )
    parser.add_argument("--snippet", default="snippets/models/simplenet.py")
    parser.add_argument(
        "--ref", help="benchmark this commit instead of the working tree"
    )
    parser.add_argument(
        "--skip-cold",
        action="store_true",
        help="reuse the repository's build/ caches (warm start)",
    )
    args = parser.parse_args()
    figures: dict[str, object] = {
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        project = Path(tmp)
        copy_tree(project, args.ref)
        if args.skip_cold:
            for cache in ("notebook-cache", "figure-cache"):
                if (ROOT / "build" / cache).is_dir():
                    shutil.copytree(ROOT / "build" / cache, project / "build" / cache)
        else:
            figures["cold_s"] = build(project)
        figures["warm_s"] = build(project)
        page = project / "docs" / args.page
        page.write_text(
            page.read_text(encoding="utf-8") + "\nEdited.\n", encoding="utf-8"
        )
        figures["page_edit_s"] = build(project)
        figures["serve_reload_s"] = serve_reload(project, page)
        snippet = project / args.snippet
        snippet.write_text(
            snippet.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8"
        )
        figures["snippet_edit_s"] = build(project)
        figures["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
