r"""Check that the zh and en pages say the same thing where it must be identical.

For every page the two languages must have: the same file; the same fenced code blocks
(raw, include lines as written); the same formulas, except the words inside
``\text{…}`` (a zh formula may write ``\text{字节}`` where en writes
``\text{bytes}``), which are masked before comparing; the same explicit heading ids
(and every heading needs one, so anchors are stable and identical); the same internal
links and images.  Only prose is translated.

Run ``python tests/parity.py`` for a per-page report; it exits non-zero on any drift.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LANGUAGES = ("zh", "en")

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<ticks>```+)[^\n]*\n.*?^(?P=indent)(?P=ticks)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
INLINE_CODE = re.compile(r"`[^`\n]+`")
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.MULTILINE)
HEADING_ID = re.compile(r"\{\s*#([\w-]+)\s*\}$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
# Only the \text family holds prose; \mathrm{softmax} and \operatorname{diag} name
# symbols and must stay identical.
TEXT_START = re.compile(r"\\text(?:rm|bf|it|sf|tt)?\s*\{")
MASK = r"\text{…}"


def mask_text(formula: str) -> str:
    """The formula with the contents of every ``\\text{…}`` replaced by a placeholder.

    Words inside ``\\text{}`` are prose and are translated (``\\text{字节}`` in zh,
    ``\\text{bytes}`` in en); everything else of a formula (symbols, operators,
    numbers) must stay identical.  Nested braces are matched, so ``\\text{a {b} c}`` is
    masked whole.
    """
    out, pos = [], 0
    while (found := TEXT_START.search(formula, pos)) is not None:
        depth, end = 1, found.end()
        while end < len(formula) and depth:
            depth += {"{": 1, "}": -1}.get(formula[end], 0)
            end += 1
        out.append(formula[pos : found.start()] + MASK)
        pos = end
    out.append(formula[pos:])
    return "".join(out)


@dataclass
class PageShape:
    """The language-independent parts of one page."""

    code_blocks: list[str] = field(default_factory=list)
    formulas: list[str] = field(default_factory=list)
    heading_ids: list[str] = field(default_factory=list)
    headings_without_id: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)


def page_shape(text: str) -> PageShape:
    shape = PageShape(code_blocks=[m.group(0).strip() for m in FENCE.finditer(text)])
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    shape.formulas = [
        mask_text(" ".join(m.split())) for m in DISPLAY_MATH.findall(prose)
    ]
    prose_no_display = DISPLAY_MATH.sub("", prose)
    shape.formulas += [
        mask_text(" ".join(m.split())) for m in INLINE_MATH.findall(prose_no_display)
    ]
    for level, title in HEADING.findall(prose):
        found = HEADING_ID.search(title)
        if found:
            shape.heading_ids.append(found.group(1))
        else:
            shape.headings_without_id.append(f"{level} {title}")
    shape.links = [
        u for u in LINK.findall(prose) if "://" not in u and not u.startswith("mailto:")
    ]
    shape.images = IMAGE.findall(prose)
    return shape


def compare_page(zh_path: Path, en_path: Path) -> list[str]:
    """Every difference between a zh page and its en twin, as 'file: problem' lines."""
    problems = []
    shapes = {}
    for lang, path in (("zh", zh_path), ("en", en_path)):
        shape = page_shape(path.read_text(encoding="utf-8"))
        for heading in shape.headings_without_id:
            problems.append(
                f"{path}: heading without an explicit id {{ #id }}: {heading!r}"
            )
        shapes[lang] = shape
    zh, en = shapes["zh"], shapes["en"]
    for what in ("code_blocks", "formulas", "heading_ids", "links", "images"):
        a, b = getattr(zh, what), getattr(en, what)
        if a == b:
            continue
        label = what.replace("_", " ")
        if len(a) != len(b):
            problems.append(
                f"{zh_path} vs {en_path}: {len(a)} {label} in zh, {len(b)} in en"
            )
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                problems.append(
                    f"{zh_path} vs {en_path}: {label} #{i + 1} differ:\n"
                    f"  zh: {x[:200]!r}\n  en: {y[:200]!r}"
                )
                break
    return problems


def compare_docs(docs: Path = DOCS) -> dict[str, list[str]]:
    """Per page (relative path), its parity problems; an empty list means in sync."""
    pages = {
        lang: {
            p.relative_to(docs / lang).as_posix() for p in (docs / lang).rglob("*.md")
        }
        for lang in LANGUAGES
    }
    report: dict[str, list[str]] = {}
    for name in sorted(pages["zh"] | pages["en"]):
        missing = [lang for lang in LANGUAGES if name not in pages[lang]]
        if missing:
            present = [lang for lang in LANGUAGES if lang not in missing][0]
            report[name] = [
                f"{docs / present / name}: exists in {present} only; "
                f"add {docs / missing[0] / name}"
            ]
        else:
            report[name] = compare_page(docs / "zh" / name, docs / "en" / name)
    return report


if __name__ == "__main__":
    report = compare_docs()
    for name, problems in report.items():
        print(f"{'ok   ' if not problems else 'DRIFT'} {name}")
        for problem in problems:
            print("      " + problem)
    sys.exit(1 if any(report.values()) else 0)
