"""The one place the build reaches into other packages' internals, checked by version.

* mkdocs-static-i18n: the attributes its folder structure sets on each ``File``
  (``locale``, ``alternates``, ``norm_src_uri``...), which generated pages must carry too;
* mkdocs-jupyter: its notebook-to-HTML converter (``mkdocs_jupyter.convert.nb2html``);
* mkdocs: what ``Page.render`` sets on a page (content, TOC, title, anchors), which
  ``hooks/render_cache.py`` stores and restores instead of converting again;
* mkdocs-material: its search index's per-page ``add_entry_from_context``, whose entries
  ``hooks/render_cache.py`` stores and restores the same way.

Each was written against the versions in :data:`TESTED`.  Another major.minor version
fails the build with a message saying what to re-check, instead of a wrong site.
"""

from __future__ import annotations

import functools
from importlib import metadata
from pathlib import Path

from mkdocs.exceptions import PluginError

# distribution -> the major.minor versions this adapter was written and tested for
TESTED = {
    "mkdocs": ("1.6",),
    "mkdocs-static-i18n": ("1.3",),
    "mkdocs-jupyter": ("0.26",),
    "mkdocs-material": ("9.8",),
}


@functools.cache
def installed(distribution: str) -> str:
    """The installed version (read once: the metadata costs a few ms a call)."""
    return metadata.version(distribution)


def check_version(distribution: str) -> str:
    """The installed version of ``distribution``; a PluginError if it was never tested."""
    try:
        version = installed(distribution)
    except metadata.PackageNotFoundError:
        raise PluginError(
            f"{distribution} is not installed (hooks/compat.py)"
        ) from None
    if ".".join(version.split(".")[:2]) not in TESTED[distribution]:
        raise PluginError(
            f"{distribution} {version} is installed, but hooks/compat.py was written for "
            f"{', '.join(TESTED[distribution])}.x: re-check the internals it uses, then "
            "add the version to TESTED"
        )
    return version


def mark_i18n_file(file, lang: str, norm_src_uri: str, alternates: dict | None = None):
    """Give a generated ``File`` the attributes static-i18n's own files carry.

    Args:
        file: a ``mkdocs.structure.files.File`` made by a hook.
        lang: its language (``zh`` / ``en``).
        norm_src_uri: its path without the language folder (``notebooks/x.md``).
        alternates: ``{lang: File}`` of its twins in other languages (itself included).
    """
    check_version("mkdocs-static-i18n")
    file.locale = lang
    file.localization = lang
    file.locale_alternate_of = lang
    file.norm_src_uri = norm_src_uri
    file.alternates = {lang: file, **(alternates or {})}
    return file


def notebook_html(ipynb: Path) -> str:
    """HTML of an executed notebook file, rendered by mkdocs-jupyter without executing it,
    without require.js and without MathJax (formulas are rendered by hooks/katex_math.py)."""
    check_version("mkdocs-jupyter")
    from mkdocs_jupyter import convert

    return convert.nb2html(
        str(ipynb),
        execute=False,
        allow_errors=False,
        include_requirejs=False,
        custom_mathjax_url="",
        no_prompt=True,
    )


def replace_render(page, render) -> None:
    """Make MkDocs call ``render(page, config, files)`` where it calls ``page.render``."""
    check_version("mkdocs")
    page.render = lambda config, files: render(page, config, files)


def render(page, config, files) -> None:
    """MkDocs' own ``Page.render``: Markdown to HTML, the TOC, title and anchors."""
    from mkdocs.structure.pages import Page

    Page.render(page, config, files)


def toc_tokens(toc) -> list[dict]:
    """A page's table of contents as the tokens ``mkdocs.structure.toc.get_toc`` takes."""
    return [
        {
            "level": link.level,
            "id": link.id,
            "name": link.title,
            "children": toc_tokens(link.children),
        }
        for link in toc
    ]


def render_state(page) -> dict:
    """What ``Page.render`` set on ``page``, as JSON-able data."""
    links = page.links_to_anchors
    return {
        "content": page.content,
        "toc": toc_tokens(page.toc),
        "title": page._title_from_render,
        "anchors": sorted(page.present_anchor_ids or ()),
        "links": None
        if links is None
        else {file.src_uri: anchors for file, anchors in links.items()},
    }


def restore_render(page, state: dict, files) -> None:
    """Set on ``page`` what ``Page.render`` set when it produced ``state``."""
    from mkdocs.structure.toc import get_toc

    page.content = state["content"]
    page.toc = get_toc(state["toc"])
    page._title_from_render = state["title"]
    page.present_anchor_ids = set(state["anchors"])
    links = state["links"]
    page.links_to_anchors = (
        None
        if links is None
        else {files.get_file_from_path(uri): anchors for uri, anchors in links.items()}
    )


def search_index(config):
    """material's search index of this build (``SearchIndex``), or None without search."""
    check_version("mkdocs-material")
    plugin = config.plugins.get("material/search")
    return getattr(plugin, "search_index", None)


def replace_indexing(index, add) -> None:
    """Make material call ``add(page, entries, index_page)`` where it indexes a page.

    ``entries`` is the index's list of entries; ``index_page(page)`` is material's own
    ``add_entry_from_context``, which appends to it.
    """
    original = type(index).add_entry_from_context
    index.add_entry_from_context = lambda page: add(
        page, index.entries, lambda p: original(index, p)
    )
