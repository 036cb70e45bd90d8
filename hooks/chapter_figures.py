"""MkDocs hook: the chapters' figures, drawn from real runs at build time.

Each ``figures/<chapter>.py`` defines ``FIGURES`` (name -> ``fn(lang) -> Figure``, see
``figures/__init__.py``). Before MkDocs collects the files, this hook renders every figure
in both languages to ``docs/<lang>/figures/<chapter>-<name>.svg`` (gitignored), so pages
embed them as ordinary images: ``![alt](figures/training-lr-schedule.svg)``.

Rendering runs real training code, so results are cached on disk under
``build/figure-cache/`` by content: the chapter's figure module, the shared figure code,
the ``snippets`` modules they reach (``hooks/fingerprint.py``), and the torch and
matplotlib versions. A changed key re-renders; an unchanged one copies the cached SVGs.
Files are written only when their bytes change, so ``mkdocs serve`` does not loop on its
own output, and SVGs that no module produces any more are deleted, so a page cannot show
a figure the code no longer makes.
A figure function that fails, or a page that embeds a figure no module defines, fails
the build (the latter through MkDocs' strict link validation).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
# MkDocs loads a hook by path; `hooks` and `figures` live here.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from figures import render  # noqa: E402  (imported now: MkDocs restores sys.path)
from hooks import compat  # noqa: E402
from hooks.fingerprint import code_digest  # noqa: E402

CACHE = ROOT / "build" / "figure-cache"
SHARED = ("style.py", "render.py", "__init__.py")  # code every chapter's figures run


class FigureError(PluginError):
    """A figure module that cannot be rendered; the message names module and figure."""


def cache_key(chapter: str) -> str:
    """What a chapter's SVGs depend on; any change re-renders them."""
    figures = render.FIGURES_DIR  # the package actually imported, wherever it lives
    h = hashlib.sha256()
    code = []
    for name in (f"{chapter}.py", *SHARED):
        code.append((figures / name).read_text(encoding="utf-8"))
        h.update(name.encode() + b"\0" + code[-1].encode() + b"\0")
    h.update(code_digest(code, ROOT).encode())  # the snippets modules they reach
    # Versions from the installed metadata: importing torch to ask took 3 s of a warm build.
    torch, matplotlib = compat.installed("torch"), compat.installed("matplotlib")
    h.update(f"torch {torch} matplotlib {matplotlib}".encode())
    return h.hexdigest()[:20]


def rendered(chapter: str) -> dict[tuple[str, str], bytes]:
    """``{(lang, file name): svg}`` for a chapter, from the cache or freshly drawn."""
    folder = CACHE / f"{chapter}-{cache_key(chapter)}"
    if folder.is_dir():
        return {
            (p.parent.name, p.name): p.read_bytes()
            for lang in render.LANGS
            for p in sorted((folder / lang).glob("*.svg"))
        }
    try:
        out = render.render_chapter(chapter)
    except Exception as err:  # the build names what failed, then stops
        raise FigureError(f"figures/{chapter}.py: {type(err).__name__}: {err}") from err
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for (lang, name), data in out.items():
        (tmp / lang).mkdir(parents=True, exist_ok=True)
        (tmp / lang / name).write_bytes(data)
    for stale in CACHE.glob(f"{chapter}-*"):  # older keys of this chapter
        if stale != tmp:
            shutil.rmtree(stale, ignore_errors=True)
    tmp.rename(folder)  # a cache entry is complete or absent
    return out


def sync_figures(docs: Path) -> dict[str, int]:
    """Make ``docs/<lang>/figures/`` hold exactly the figures the modules produce."""
    wanted: dict[tuple[str, str], bytes] = {}
    for chapter in render.chapters():
        wanted.update(rendered(chapter))
    written = 0
    for (lang, name), data in wanted.items():
        written += render.write_if_changed(docs / lang / "figures" / name, data)
    removed = 0
    for lang in render.LANGS:
        for path in (docs / lang / "figures").glob("*.svg"):
            if (lang, path.name) not in wanted:
                path.unlink()
                removed += 1
    return {"figures": len(wanted), "written": written, "removed": removed}


def on_pre_build(config: MkDocsConfig) -> None:
    sync_figures(Path(config.docs_dir))
