"""MkDocs hook: accessibility fixes for Material's templates.

The search dialog (``<div class="md-search" role="dialog">``) has no accessible name, so a
screen reader announces an unnamed dialog.  It gets ``aria-label`` with the text of the
search field's own label, which Material already translates per language (搜索 / Search).
A page without that markup (after a Material upgrade) fails the build instead of silently
losing the name.
"""

from __future__ import annotations

import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
INPUT_LABEL = re.compile(
    r'<input type="text" class="md-search__input" name="query" '
    r'aria-label="([^"]+)"'
)


def name_search_dialog(output: str, where: str) -> str:
    """``output`` with the search dialog named after its search field."""
    label = INPUT_LABEL.search(output)
    if DIALOG not in output or label is None:
        raise PluginError(
            f"{where}: Material's search dialog markup was not found; "
            "hooks/a11y.py cannot give it an accessible name"
        )
    return output.replace(DIALOG, DIALOG[:-1] + f' aria-label="{label.group(1)}">', 1)


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return name_search_dialog(output, page.file.src_uri)
