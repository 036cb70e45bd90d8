"""MkDocs hook: each page is converted and indexed once per content; templates compile once.

In a build where nothing changed, converting the 40 pages' Markdown (Pygments on every
code block, superfences, the table of contents), indexing their HTML for search and
compiling the theme's Jinja templates were most of the time left.  All three are cached
on disk under ``build/``:

* **Markdown.** ``build/render-cache/<key>.json`` holds what ``Page.render`` produced: the
  HTML, the table of contents, the title and the anchors the link checks use.  The key is
  everything the conversion reads: the page's Markdown after every ``on_page_markdown``
  hook, with its ``--8<--`` includes expanded (so an edited snippet is a new key), the
  page's location, the site's file list (links resolve against it), ``mkdocs.yml``, the
  hooks' code and the versions of the Markdown packages.  A conversion that logged a
  warning (a broken link, say) is not stored, so ``--strict`` sees that warning on every
  build.  Hooks that run on the HTML afterwards (KaTeX, search) run every time.
* **Search entries.** material's search plugin parses each page's HTML into index
  entries (with jieba segmenting the Chinese text).  ``search-<key>.json`` holds the
  entries a page added, keyed by its HTML, URL, title, TOC and metadata, ``mkdocs.yml``,
  the hooks, the packages and the glossary (its terms are jieba's words).
* **Templates.** Jinja's own bytecode cache (``build/template-cache/``), keyed by each
  template's name and source.

The calls into MkDocs' and material's internals are in ``hooks/compat.py``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from pathlib import Path

from jinja2 import FileSystemBytecodeCache
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
# MkDocs loads hooks by file; the shared helpers are hooks.*
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from hooks import compat, includes  # noqa: E402

FORMAT = 1  # bump when what an entry holds changes
PACKAGES = (
    "mkdocs",
    "mkdocs-material",
    "mkdocs-static-i18n",
    "markdown",
    "pymdown-extensions",
    "pygments",
)
_build: dict[str, object] = {}  # this build's shared key parts and include expander


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def site_digest(root: Path) -> str:
    """What every page's conversion depends on: mkdocs.yml, the hooks, the packages."""
    h = hashlib.sha256(f"format {FORMAT}\0".encode())
    h.update(Path(root, "mkdocs.yml").read_bytes() + b"\0")
    for hook in sorted(Path(root, "hooks").glob("*.py")):
        h.update(hook.name.encode() + b"\0" + hook.read_bytes() + b"\0")
    for name in PACKAGES:
        h.update(f"{name} {compat.installed(name)}\0".encode())
    return h.hexdigest()


class _Warnings(logging.Handler):
    """Counts the warnings logged while it is attached to MkDocs' logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _key(page: Page) -> str:
    expanded = includes.expand(
        page.markdown or "", page.file.src_uri, _build["expander"]
    )
    h = hashlib.sha256()
    for part in (
        _build["site"],
        _build["files"],
        page.file.src_uri,
        page.file.dest_uri,
        page.file.url,
        expanded,
    ):
        h.update(str(part).encode("utf-8") + b"\0")
    return h.hexdigest()[:32]


def _store(entry: Path, data) -> None:
    """Write ``data`` as JSON to ``entry``: an entry is complete or absent."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, entry)


def cached_render(page: Page, config: MkDocsConfig, files: Files) -> None:
    """``Page.render``, or what it produced last time for exactly this input."""
    try:
        key = _key(page)
    except includes.IncludeError:
        compat.render(page, config, files)  # fails the build naming the include
        return
    entry = Path(_build["cache"]) / f"{key}.json"
    if entry.is_file():
        compat.restore_render(page, json.loads(entry.read_text("utf-8")), files)
        return
    warnings = _Warnings()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(warnings)
    try:
        compat.render(page, config, files)
    finally:
        logger.removeHandler(warnings)
    if warnings.count:
        return  # logged again next time, so --strict never passes on a cached page
    _store(entry, compat.render_state(page))


def cached_indexing(page: Page, entries: list, index_page) -> None:
    """material's search indexing of ``page`` (``index_page``), or the entries it added
    last time for exactly this page content, title, TOC and metadata."""
    h = hashlib.sha256()
    for part in (
        _build["site"],
        _build["glossary"],
        page.url,
        page.title,
        json.dumps(page.meta, sort_keys=True, default=str),
        json.dumps(compat.toc_tokens(page.toc)),
        page.content,
    ):
        h.update(str(part).encode("utf-8") + b"\0")
    entry = Path(_build["cache"]) / f"search-{h.hexdigest()[:32]}.json"
    if entry.is_file():
        entries.extend(json.loads(entry.read_text("utf-8")))
        return
    before = len(entries)
    index_page(page)
    _store(entry, entries[before:])


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    root = _root(config)
    _build["site"] = site_digest(root)
    _build["cache"] = root / "build" / "render-cache"
    glossary = Path(config.docs_dir) / "glossary.yml"  # its terms are words to jieba
    terms = glossary.read_bytes() if glossary.is_file() else b""
    _build["glossary"] = hashlib.sha256(terms).hexdigest()
    return config


def on_pre_build(config: MkDocsConfig) -> None:
    index = compat.search_index(config)
    if index is not None and "add_entry_from_context" not in vars(index):
        compat.replace_indexing(index, cached_indexing)


@event_priority(-300)  # after static-i18n and the notebook pages have set the files
def on_files(files: Files, config: MkDocsConfig) -> Files:
    listing = sorted((f.src_uri, f.dest_uri, f.url) for f in files)
    _build["files"] = hashlib.sha256(json.dumps(listing).encode()).hexdigest()
    _build["expander"] = includes.preprocessor(
        config.markdown_extensions, config.mdx_configs
    )
    return files


def on_pre_page(page: Page, config: MkDocsConfig, files: Files) -> Page:
    compat.replace_render(page, cached_render)
    return page


def on_env(env, config: MkDocsConfig, files: Files):
    folder = _root(config) / "build" / "template-cache"
    folder.mkdir(parents=True, exist_ok=True)
    env.bytecode_cache = FileSystemBytecodeCache(str(folder))
    return env
