"""MkDocs hook: render the glossary table from ``docs/glossary.yml`` in the page's
language.

The glossary pages (``docs/zh/glossary.md``, ``docs/en/glossary.md``) hold the prose and
a ``<!-- glossary-table -->`` line; this hook replaces that line with a Markdown table
built from the data file, so both languages show the same terms and
``tests/test_glossary.py`` checks the pages against the same data.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

MARKER = "<!-- glossary-table -->"
DATA = "glossary.yml"  # in docs_dir
HEADERS = {
    "zh": ("中文", "English", "不要写作", "说明"),
    "en": ("中文", "English", "Avoid in Chinese", "Note (in Chinese)"),
}


def load_terms(path: Path) -> list[dict]:
    """The glossary entries; a malformed entry is an error naming the file and entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    terms = data.get("terms") if isinstance(data, dict) else None
    if not isinstance(terms, list) or not terms:
        raise ValueError(f"{path}: expected a non-empty 'terms:' list")
    seen: set[str] = set()
    for number, term in enumerate(terms, start=1):
        if not isinstance(term, dict) or not term.get("zh") or not term.get("en"):
            raise ValueError(f"{path}: term #{number} needs 'zh' and 'en': {term!r}")
        if term["zh"] in seen:
            raise ValueError(f"{path}: term #{number} repeats {term['zh']!r}")
        seen.add(term["zh"])
        term.setdefault("avoid", [])
        for wrong in term["avoid"]:
            if term["zh"] in wrong or wrong in term["zh"]:
                raise ValueError(
                    f"{path}: term #{number}: avoided {wrong!r} overlaps "
                    f"{term['zh']!r}, so the check could not tell them apart"
                )
    return terms


def table(terms: list[dict], lang: str) -> str:
    """The glossary as a Markdown table sorted by the English term; a note column only
    when some term has a note."""
    headers = HEADERS.get(lang, HEADERS["en"])
    with_notes = any(term.get("note") for term in terms)
    if not with_notes:
        headers = headers[:3]
    rows = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    for term in sorted(terms, key=lambda t: t["en"].lower()):
        cells = [term["zh"], term["en"], "、".join(term["avoid"]) or "—"]
        if with_notes:
            cells.append(term.get("note") or "")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def on_page_markdown(
    markdown: str, page: Page, config: MkDocsConfig, files: Files
) -> str:
    if MARKER not in markdown:
        return markdown
    path = Path(config.docs_dir) / DATA
    try:
        terms = load_terms(path)
    except (OSError, ValueError) as err:
        raise PluginError(f"{page.file.src_uri}: glossary table: {err}") from None
    lang = getattr(page.file, "locale", "en")
    return markdown.replace(MARKER, table(terms, lang))
