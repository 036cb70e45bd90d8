"""A small copy of the site's project for planted-fault tests: the real mkdocs.yml, hooks,
scripts and figure framework, one page per language, and (optionally) its own ``snippets``
package so a test can edit a snippet without touching the repository's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURE_FRAMEWORK = (
    "__init__.py",
    "__main__.py",
    "render.py",
    "style.py",
)  # no chapters


def make_project(
    tmp_path: Path, zh: str, en: str, snippets: dict[str, str] | None = None
) -> Path:
    """Write the project into ``tmp_path``; return its ``mkdocs.yml``.

    ``snippets`` maps file names to the contents of a fresh ``snippets`` package; without
    it the repository's package is linked.
    """
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = re.sub(
        r"^nav:\n(?:[ -].*\n)+", "nav:\n  - index.md\n", config, flags=re.MULTILINE
    )
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "hooks", tmp_path / "hooks", ignore=ignore)
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts", ignore=ignore)
    (tmp_path / "figures").mkdir()
    for name in FIGURE_FRAMEWORK:
        if (ROOT / "figures" / name).is_file():
            shutil.copy2(ROOT / "figures" / name, tmp_path / "figures" / name)
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    if snippets is None:
        (tmp_path / "snippets").symlink_to(ROOT / "snippets")
    else:
        (tmp_path / "snippets").mkdir()
        for name, text in snippets.items():
            (tmp_path / "snippets" / name).write_text(text, encoding="utf-8")
    for lang, text in (("zh", zh), ("en", en)):
        (tmp_path / "docs" / lang).mkdir(parents=True)
        (tmp_path / "docs" / lang / "index.md").write_text(text, encoding="utf-8")
    return tmp_path / "mkdocs.yml"


def mkdocs_build(
    config: Path, site_dir: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config`` into ``site_dir``, with extra ``env``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(config),
            "-d",
            str(site_dir),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **env},
        timeout=600,
    )
