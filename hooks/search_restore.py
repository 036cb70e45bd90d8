"""MkDocs hook: give a page back the code blocks ``hooks/search_split.py`` hid from search.

It runs after material's search plugin has indexed the page and before the theme renders
it, so the reader sees every block; a page rendered without them fails the site checks
(every executed block must appear in the built page).
"""

from __future__ import annotations

from mkdocs.plugins import event_priority

FULL_CONTENT = "handbook_content_with_code"  # set by hooks/search_split.py


@event_priority(-100)  # after the search plugin (0), before the page is rendered
def on_page_context(context, page, config, nav):
    full = page.__dict__.pop(FULL_CONTENT, None)
    if full is not None:
        page.content = full
    return context
