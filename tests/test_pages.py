"""Execute every python block of every page, in both languages, in page order, twice.

A chapter's zh page runs in a fresh scratch directory, then its en page (the same code
blocks: ``tests/parity.py``) runs in the same directory: every page's code must work when
run a second time where it already ran, as a reader re-running a notebook does.  The
re-run stops where the rest could only repeat the zh run (``pagecheck.run_chapter``).
"""

import pytest
from pagecheck import ROOT, run_chapter

DOCS = ROOT / "docs"
CHAPTERS = sorted(
    p.relative_to(DOCS / "zh").as_posix() for p in (DOCS / "zh").glob("**/*.md")
)
REFERENCE_PAGES = {
    "glossary.md"
}  # tables generated from data, not chapters with claims


@pytest.mark.parametrize(
    "chapter", CHAPTERS, ids=[c.removesuffix(".md") for c in CHAPTERS]
)
def test_chapter_runs_in_both_languages_and_again(chapter: str) -> None:
    zh, en = DOCS / "zh" / chapter, DOCS / "en" / chapter
    assert en.is_file(), f"{chapter} has no English page"
    ran_zh, ran_en = run_chapter(zh, en)
    assert ran_zh == ran_en, f"{chapter}: {ran_zh} blocks ran in zh, {ran_en} in en"
    if chapter in REFERENCE_PAGES:
        return
    assert ran_zh > 0, (
        f"{chapter} has no python block; every chapter proves its claims with code"
    )


def test_both_languages_have_the_same_pages() -> None:
    zh = {p.relative_to(DOCS / "zh") for p in (DOCS / "zh").glob("**/*.md")}
    en = {p.relative_to(DOCS / "en") for p in (DOCS / "en").glob("**/*.md")}
    assert zh and zh == en, zh ^ en
