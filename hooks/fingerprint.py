"""Content digests that decide what is stale: cached notebooks, figures, verified stamps.

:func:`code_digest` is the digest of the ``snippets`` code that some code (a page, a
notebook, a figure module) can reach: the modules it imports, what those import in turn,
their packages' ``__init__.py``, a package's ``__main__.py`` where it is run with
``python -m``, and every file of the package that is not Python.  So an edited snippet
makes stale only what reaches it: editing ``snippets/lora.py`` re-runs the fine-tuning
figures and marks the fine-tuning pages unverified, and leaves the rest alone.
:func:`page_digest` is what a verified stamp certifies: the page's markdown with its
includes expanded, plus the code digest of that markdown.

What counts as reaching a module is read from the text, generously: an ``import``
statement, any dotted name ``snippets.x.y`` (``python -m snippets.distributed.ddp`` in
a string), and any path ``snippets/x/y.py``.  A module imported under a computed name
(``importlib.import_module(f"snippets.{name}")``) is not seen; the package does not do
that (``tests/test_site_hooks.py`` checks).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_PARTS = {"__pycache__"}  # bytecode changes when code is merely imported
PACKAGE = "snippets"
DOTTED = re.compile(r"\bsnippets(?:\.[A-Za-z_]\w*)*")
PATH = re.compile(r"\bsnippets((?:/[A-Za-z_]\w*)+)\.py\b")
# `python -m snippets` (also as ["-m", "snippets"]) runs the package's __main__.py
RUN_MODULE = re.compile(r"""-m['"]?\s*,?\s*['"]?(snippets(?:\.\w+)*)(?![.\w])""")
FROM_IMPORT = re.compile(
    r"\bfrom\s+(snippets(?:\.\w+)*|\.+\w*(?:\.\w+)*)\s+import\s+(\([^)]*\)|[^\n;]*)"
)


def _imported_names(clause: str) -> list[str]:
    """``a, b as c`` or ``(a,\n b)`` -> ``["a", "b"]``."""
    parts = re.sub(r"#[^\n]*", "", clause).strip().strip("()").split(",")
    return [p.split()[0] for p in parts if p.split() and p.split()[0].isidentifier()]


def module_names(text: str, package: str | None = None, runs: bool = True) -> set[str]:
    """Every ``snippets`` module name ``text`` may import (and some that are not
    modules: names of functions, say, which :func:`reachable_files` ignores).

    Args:
        text: Python code, or markdown with code in it.
        package: the package ``text`` belongs to, for its relative imports.
        runs: ``python -m package`` in ``text`` runs the package's ``__main__.py``
            (true of a page's code; in a module's docstring it is only advice).
    """
    names = set(DOTTED.findall(text))
    if runs:
        names.update(f"{module}.__main__" for module in RUN_MODULE.findall(text))
    names.update(PACKAGE + path.replace("/", ".") for path in PATH.findall(text))
    for module, clause in FROM_IMPORT.findall(text):
        if module.startswith("."):
            if package is None:
                continue
            dots = len(module) - len(module.lstrip("."))
            base = package.rsplit(".", dots - 1)[0] if dots > 1 else package
            module = base + ("." + module.lstrip(".") if module.strip(".") else "")
        names.add(module)
        names.update(f"{module}.{name}" for name in _imported_names(clause))
    return names


def _module_file(root: Path, name: str) -> Path | None:
    base = Path(root).joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


# path -> ((mtime, size) when read, its imports): one entry per file, however often it
# changes under `mkdocs serve`
_imports: dict[Path, tuple[tuple[int, int], set[str]]] = {}


def _imports_of(path: Path, package: str) -> set[str]:
    """:func:`module_names` of a module file, read again only when the file changes."""
    stat = path.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    known = _imports.get(path)
    if known is None or known[0] != version:
        code = path.read_text("utf-8")
        known = _imports[path] = (version, module_names(code, package, runs=False))
    return known[1]


def reachable_files(root: Path, texts: Iterable[str]) -> list[Path]:
    """The files of the ``snippets`` package under ``root`` that code in ``texts`` can
    reach (see the module docstring), sorted."""
    root = Path(root)
    found: set[Path] = {
        p
        for p in (root / PACKAGE).rglob("*")
        if p.is_file()
        and p.suffix not in (".py", ".pyc")
        and not SKIPPED_PARTS & set(p.parts)
    }
    todo = {name for text in texts for name in module_names(text)}
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        seen.add(name)
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # a module runs its packages' __init__
            name = ".".join(parts[:depth])
            path = _module_file(root, name)
            if path is None:
                break
            if path not in found:
                found.add(path)
                in_package = path.name == "__init__.py"
                package = name if in_package else name.rpartition(".")[0]
                todo.update(_imports_of(path, package) - seen)
    return sorted(found)


def code_digest(texts: Iterable[str], root: Path = ROOT) -> str:
    """Digest of the ``snippets`` files that code in ``texts`` can reach, by content."""
    h = hashlib.sha256()
    for path in reachable_files(root, texts):
        rel = path.relative_to(root).as_posix()
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def page_digest(expanded_markdown: str, root: Path = ROOT) -> str:
    """What a verified stamp certifies: the page as executed.

    Args:
        expanded_markdown: the page's markdown with every include expanded
            (:func:`includes.expand`), so prose, blocks and included code all count.
        root: the project whose ``snippets`` package the page's code imports; the
            :func:`code_digest` of the markdown is part of the digest.
    """
    h = hashlib.sha256()
    snippets = code_digest([expanded_markdown], root)
    h.update(expanded_markdown.encode("utf-8") + b"\0" + snippets.encode())
    return h.hexdigest()
