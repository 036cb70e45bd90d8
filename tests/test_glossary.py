"""The zh pages use the glossary's terms (docs/glossary.yml).

Two checks per page, prose only (code blocks and inline code are left out):

* a zh page must not use a variant the glossary lists under ``avoid``
  (``反向传递`` for ``反向传播``); the error names the file, the line and the right term;
* when an en page uses a glossary term (``gradient accumulation``), its zh twin must use the
  glossary's Chinese term (``梯度累积``) at least once.

Run ``python tests/test_glossary.py`` for a report.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hooks"))
from glossary import load_terms  # noqa: E402

DOCS = ROOT / "docs"
GLOSSARY = DOCS / "glossary.yml"
FENCE = re.compile(r"^([ \t]*)(```+).*?^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]+`")


def prose(text: str) -> str:
    """The page without code: blank lines keep the line numbers of what is left."""
    def blank(match: re.Match) -> str:
        return "\n" * match.group(0).count("\n")

    return INLINE_CODE.sub("", FENCE.sub(blank, text))


def _en_pattern(term: str) -> re.Pattern:
    return re.compile(r"(?<![\w-])" + re.escape(term).replace(r"\ ", r"[\s-]+") + r"s?(?![\w-])",
                      re.IGNORECASE)


def glossary_problems(docs: Path = DOCS, glossary: Path = GLOSSARY) -> list[str]:
    """Every use of an avoided term in a zh page, and every glossary term an en page uses
    whose Chinese term its zh twin never uses."""
    terms = load_terms(glossary)
    problems = []
    for zh_page in sorted((docs / "zh").rglob("*.md")):
        rel = zh_page.relative_to(docs / "zh")
        if rel.as_posix() == "glossary.md":
            continue
        zh_text = prose(zh_page.read_text(encoding="utf-8"))
        for number, line in enumerate(zh_text.splitlines(), start=1):
            for term in terms:
                for wrong in term["avoid"]:
                    if wrong in line:
                        problems.append(
                            f"{zh_page}:{number}: '{wrong}' goes against the glossary: write "
                            f"'{term['zh']}' ({term['en']}); see docs/glossary.yml"
                        )
        en_page = docs / "en" / rel
        if not en_page.is_file():
            continue
        en_text = prose(en_page.read_text(encoding="utf-8"))
        for term in terms:
            found = _en_pattern(term["en"]).search(en_text)
            # A capitalised use is a name or a title ("Attention Is All You Need"): the zh
            # page may quote it in English.
            quoted = found is not None and found.group(0)[0].isupper() and \
                found.group(0) in zh_text
            if found and not quoted and term["zh"] not in zh_text:
                problems.append(
                    f"{zh_page}: the en page uses '{found.group(0)}' but this page never uses "
                    f"the glossary's '{term['zh']}'; see docs/glossary.yml"
                )
    return problems


def test_glossary_data_is_well_formed() -> None:
    terms = load_terms(GLOSSARY)
    assert len(terms) >= 20
    assert {"反向传播", "梯度累积", "微调"} <= {t["zh"] for t in terms}


def test_zh_pages_use_the_glossary_terms() -> None:
    problems = glossary_problems()
    assert not problems, "\n".join(problems)


def _docs(tmp_path: Path, zh: str, en: str) -> Path:
    for lang, text in (("zh", zh), ("en", en)):
        (tmp_path / lang).mkdir(parents=True, exist_ok=True)
        (tmp_path / lang / "page.md").write_text(text, encoding="utf-8")
    return tmp_path


ZH = "# 训练 { #t }\n\n反向传播计算梯度。\n\n```python\nx = 1  # 反向传递 in code is not prose\n```\n"
EN = "# Training { #t }\n\nThe backward pass computes the gradient.\n"


def test_clean_pages_pass(tmp_path: Path) -> None:
    assert glossary_problems(_docs(tmp_path, ZH, EN)) == []


def test_planted_wrong_term_is_reported_with_file_line_and_fix(tmp_path: Path) -> None:
    zh = ZH.replace("反向传播计算梯度。", "反向传播计算梯度。\n\n再做一次反向传递。")
    problems = glossary_problems(_docs(tmp_path, zh, EN))
    assert len(problems) == 1
    assert re.search(r"zh/page\.md:5: '反向传递' goes against the glossary: write '反向传播' "
                     r"\(backward pass\)", problems[0]), problems


def test_planted_missing_term_is_reported(tmp_path: Path) -> None:
    en = EN + "\nGradient accumulation sums gradients over micro-batches.\n"
    problems = glossary_problems(_docs(tmp_path, ZH, en))
    assert len(problems) == 1 and "'梯度累积'" in problems[0], problems


def test_a_bad_glossary_entry_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "glossary.yml"
    bad.write_text("terms:\n  - {zh: 反向传播, en: backward pass, avoid: [反向传播算法]}\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="overlaps"):
        load_terms(bad)


if __name__ == "__main__":
    found = glossary_problems()
    print("\n".join(found) or "ok: the zh pages follow docs/glossary.yml")
    sys.exit(1 if found else 0)
