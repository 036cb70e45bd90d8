"""One include expander for the build hooks and the page tests.

``--8<-- "snippets/x.py:name"`` lines are expanded by pymdownx.snippets configured exactly
as ``mkdocs.yml`` configures it, so the code a page test or a notebook executes is the code
the site shows, byte for byte.  ``tests/pagecheck.py`` (page blocks), ``hooks/notebooks.py``
(notebook cells) and ``hooks/verified.py`` (the page digest behind a verified stamp) all call
:func:`expand`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import markdown

ROOT = Path(__file__).resolve().parent.parent
MKDOCS_YML = ROOT / "mkdocs.yml"
MARKER = "--8<--"


class IncludeError(Exception):
    """An include line naming a missing file or section; the message names where."""


@functools.lru_cache(maxsize=8)
def _config_extensions(config_file: str) -> tuple[list, dict]:
    from mkdocs.config import load_config

    config = load_config(config_file)
    return config["markdown_extensions"], config["mdx_configs"]


def preprocessor(extensions: Sequence, extension_configs: Mapping):
    """The pymdownx.snippets preprocessor of a Markdown configured like the site."""
    md = markdown.Markdown(
        extensions=list(extensions), extension_configs=dict(extension_configs)
    )
    if "snippet" not in md.preprocessors:
        raise IncludeError("pymdownx.snippets is not among the markdown extensions")
    return md.preprocessors["snippet"]


@functools.lru_cache(maxsize=8)
def _file_preprocessor(config_file: str):
    return preprocessor(*_config_extensions(config_file))


def expand(
    text: str, where: str, snippet_preprocessor=None, config_file: Path = MKDOCS_YML
) -> str:
    """``text`` with every ``--8<--`` include expanded; the trailing newline is kept.

    Args:
        text: markdown or code that may contain include lines.
        where: ``file:line`` named in the error.
        snippet_preprocessor: from :func:`preprocessor` (a build hook has its config);
            by default the one configured from ``config_file``.
        config_file: the ``mkdocs.yml`` whose ``pymdownx.snippets`` settings apply.

    Raises:
        IncludeError: ``<where>: include failed: <reason>`` for a missing file or section.
    """
    if MARKER not in text:
        return text
    snippets = snippet_preprocessor or _file_preprocessor(
        str(Path(config_file).resolve())
    )
    try:
        lines = snippets.run(text.splitlines())
    except Exception as err:  # SnippetMissingError and friends
        raise IncludeError(f"{where}: include failed: {err}") from None
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")
