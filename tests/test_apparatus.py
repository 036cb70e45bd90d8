"""Every chapter carries the apparatus readers rely on (CONTRIBUTING.md, "A chapter's
apparatus"): a summary, at least three exercises with solutions, a figure drawn by code,
and no code block too long to read on the page."""

import re
from pathlib import Path

import pytest
from pagecheck import extract_blocks

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PAGES = {"glossary.md"}  # a generated table, not a chapter
MAX_BLOCK_LINES = 60
CHAPTERS = sorted(
    p for p in (ROOT / "docs").glob("*/*.md") if p.name not in REFERENCE_PAGES
)
IDS = [p.relative_to(ROOT / "docs").as_posix() for p in CHAPTERS]
SOLUTION = re.compile(r'^[ \t]*\?\?\? success "(答案|Solution)', re.M)


def sections(text: str) -> list[str]:
    """Ids of the ``##`` headings, in order."""
    return re.findall(r"^## .*\{ #([\w-]+) \}\s*$", text, re.M)


def apparatus_problems(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    problems = []
    ids = sections(text)
    if ids[-2:] != ["summary", "exercises"]:
        problems.append(
            f"must end with the summary then the exercises sections, ends {ids[-2:]}"
        )
    summary = text.split("{ #summary }", 1)[-1].split("{ #exercises }", 1)[0]
    points = len(re.findall(r"^[-*] ", summary, re.M))
    if not 3 <= points <= 6:
        problems.append(f"summary has {points} points, wants 3-6")
    exercises = text.split("{ #exercises }", 1)[-1]
    if len(SOLUTION.findall(exercises)) < 3:
        problems.append("fewer than 3 exercises with a collapsed solution")
    if not re.search(r"!\[[^\]]+\]\(figures/[^)]+\.svg\)", text):
        problems.append("no figure drawn by code (![alt](figures/CHAPTER-NAME.svg))")
    for block in extract_blocks(path):
        lines = block.code.rstrip("\n").count("\n") + 1
        if lines > MAX_BLOCK_LINES:
            problems.append(
                f"{block.where}: block of {lines} lines (max {MAX_BLOCK_LINES})"
            )
    return problems


@pytest.mark.parametrize("page", CHAPTERS, ids=IDS)
def test_chapter_has_its_apparatus(page: Path) -> None:
    problems = apparatus_problems(page)
    assert not problems, f"{page.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


def test_apparatus_check_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "bare.md"
    page.write_text(
        "# Bare { #bare }\n\n## Only { #only }\n\n```python\n"
        + "x = 1\n" * 61
        + "```\n",
        encoding="utf-8",
    )
    found = apparatus_problems(page)
    assert len(found) == 5, found
    assert "block of 61 lines" in found[-1]
