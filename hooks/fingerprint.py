"""Content digests that decide what is stale: cached notebooks, figures, verified stamps.

:func:`snippets_digest` is the one digest of the code pages and notebooks import (every file
of the ``snippets`` package); :func:`page_digest` is what a verified stamp certifies: the
page's markdown with its includes expanded, plus that package digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_PARTS = {"__pycache__"}


def tree_digest(folder: Path) -> str:
    """SHA-256 over the relative name and bytes of every file under ``folder``.

    ``__pycache__`` folders are left out (they change when code is merely imported).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder to digest")
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if (
            not path.is_file()
            or SKIPPED_PARTS & set(rel.parts)
            or path.suffix == ".pyc"
        ):
            continue
        h.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def snippets_digest(root: Path = ROOT) -> str:
    """Digest of the ``snippets`` package under ``root`` (all its files, by content)."""
    return tree_digest(Path(root) / "snippets")


def page_digest(expanded_markdown: str, snippets: str) -> str:
    """What a verified stamp certifies: the page as executed.

    Args:
        expanded_markdown: the page's markdown with every include expanded
            (:func:`includes.expand`), so prose, blocks and included code all count.
        snippets: :func:`snippets_digest` of the package the page's code imports.
    """
    h = hashlib.sha256()
    h.update(expanded_markdown.encode("utf-8") + b"\0" + snippets.encode())
    return h.hexdigest()
