"""scripts/publish.py publishes to a git remote only what was verified, against a local
bare repository: a verified project is published with absolute URLs; an unverified one, or
one whose included snippet changed after its run, is refused with the pages named and
nothing is pushed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pagecheck import run_chapter
from project import make_project, mkdocs_build

pytestmark = pytest.mark.site
SITE_URL = "https://example.org/handbook/"
PAGE = '# T { #t }\n\nText.\n\n```python\n--8<-- "snippets/demo.py:hello"\n```\n'
DEMO = "# --8<-- [start:hello]\nprint({!r})\n# --8<-- [end:hello]\n"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return result.stdout.strip()


def publish(project: Path, remote: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(project / "scripts" / "publish.py"),
            "--remote",
            str(remote),
            "--site-url",
            SITE_URL,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **GIT_ENV},
    )


def published(remote: Path, path: str) -> str:
    return git("show", f"gh-pages:{path}", cwd=remote)


def test_publish_only_what_was_verified(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    make_project(
        project, PAGE, PAGE, snippets={"__init__.py": "", "demo.py": DEMO.format("hi")}
    )
    git("init", "-q", "-b", "main", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "project", cwd=project)
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    zh, en = project / "docs" / "zh" / "index.md", project / "docs" / "en" / "index.md"

    refused = publish(project, remote)  # never run: no records
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (
        "zh/index.md: missing" in refused.stderr
        and "en/index.md: missing" in refused.stderr
    )
    assert git("branch", "--list", cwd=remote) == "", "something was pushed"

    assert run_chapter(zh, en) == (1, 1)
    result = publish(project, remote)
    assert result.returncode == 0, result.stdout + result.stderr
    deployed = git("rev-parse", "gh-pages", cwd=remote)
    home = published(remote, "en/index.html")
    assert f'<link rel="canonical" href="{SITE_URL}en/">' in home
    assert 'data-state="ok"' in home
    sitemap = published(remote, "sitemap.xml")
    assert (
        f"<loc>{SITE_URL}en/</loc>" in sitemap and f"<loc>{SITE_URL}</loc>" in sitemap
    )
    assert f'hreflang="en" href="{SITE_URL}en/"' in sitemap

    # The included snippet changes after the run: both pages are stale, nothing is pushed.
    (project / "snippets" / "demo.py").write_text(
        DEMO.format("changed"), encoding="utf-8"
    )
    refused = publish(project, remote)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (
        "zh/index.md: stale" in refused.stderr
        and "en/index.md: stale" in refused.stderr
    )
    assert git("rev-parse", "gh-pages", cwd=remote) == deployed


def test_a_publishing_build_fails_on_a_stale_stamp(tmp_path: Path) -> None:
    config = make_project(
        tmp_path, PAGE, PAGE, snippets={"__init__.py": "", "demo.py": DEMO.format("hi")}
    )
    run_chapter(
        tmp_path / "docs" / "zh" / "index.md", tmp_path / "docs" / "en" / "index.md"
    )
    (tmp_path / "docs" / "en" / "index.md").write_text(PAGE + "\nMore text.\n", "utf-8")
    result = mkdocs_build(config, tmp_path / "out", HANDBOOK_REQUIRE_VERIFIED="1")
    assert result.returncode != 0
    assert (
        "en/index.md: stale" in result.stderr and "zh/index.md" not in result.stderr
    ), result.stderr
