"""Execute every python block of every page, in both languages, in page order."""

from pathlib import Path

import pytest
from pagecheck import ROOT, run_page

PAGES = sorted((ROOT / "docs").glob("*/**/*.md"))
REFERENCE_PAGES = {"glossary.md"}  # tables generated from data, not chapters with claims


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT / "docs").as_posix() for p in PAGES])
def test_page_blocks_run_and_outputs_match(page: Path) -> None:
    ran = run_page(page)
    if page.name in REFERENCE_PAGES:
        return
    assert ran > 0, f"{page} has no python block; every chapter proves its claims with code"


def test_both_languages_have_pages() -> None:
    langs = {p.relative_to(ROOT / "docs").parts[0] for p in PAGES}
    assert langs == {"zh", "en"}
