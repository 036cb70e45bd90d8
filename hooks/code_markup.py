"""MkDocs hook: drop the Pygments spans that draw nothing, so code-heavy pages stay light.

Pygments wraps every token in a ``<span>``.  Two kinds change nothing on screen in this
theme: names (``class="n"``, coloured ``--md-code-hl-name-color``, which material sets to
the code's own text colour, and ``docs/stylesheets/palette.css`` leaves alone) and
whitespace (``class="w"``, no rule at all).  On the training page they were 1,626 of its
7,950 elements.  Keywords, strings, numbers, operators, punctuation and comments keep
their spans and colours; the text of a block, which the copy button copies and the site
checks compare with the executed code, is unchanged.
"""

from __future__ import annotations

import re

from mkdocs.plugins import event_priority

PLAIN_TOKEN = re.compile(r'<span class="[nw]">([^<]*)</span>')


def strip_plain_tokens(html: str) -> str:
    """``html`` with every name and whitespace token's span replaced by its text."""
    return PLAIN_TOKEN.sub(r"\1", html)


@event_priority(-50)  # after the other content hooks; the spans come from Markdown
def on_page_content(html, page, config, files):
    return strip_plain_tokens(html)
