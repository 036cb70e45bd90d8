"""MkDocs hook: give a page back the code blocks ``hooks/search_split.py`` hid from search.

It runs after material's search plugin has indexed the page and before the theme renders
it, so the reader sees every block; a page rendered without them fails the site checks
(every executed block must appear in the built page).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parent.parent
# MkDocs loads hooks by file; the shared helpers are hooks.*
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from hooks.search_split import FULL_CONTENT  # noqa: E402 (where that hook keeps the code)


@event_priority(-100)  # after the search plugin (0), before the page is rendered
def on_page_context(context, page, config, nav):
    full = page.__dict__.pop(FULL_CONTENT, None)
    if full is not None:
        page.content = full
    return context
