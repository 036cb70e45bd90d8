"""The zh pages use the glossary's terms (docs/glossary.yml).

Two checks per page, prose only (code blocks, inline code and formulas are left out:
the parity check covers formulas):

* a zh page must not use a variant the glossary lists under ``avoid``
  (``反向传递`` for ``反向传播``); the error names the file, the line and the
  right term. An English variant (``token``) is matched as a whole word, and is
  allowed as a gloss in full-width parentheses right after the term or inside the
  parentheses that hold it (``词元（token）``, ``（权重绑定，weight tying）``);
* when an en page uses a glossary term (``gradient accumulation``), its zh twin must
  use the glossary's Chinese term (``梯度累积``) at least once.

Run ``python tests/test_glossary.py`` for a report.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hooks"))
from glossary import load_terms, table  # noqa: E402
from search_terms import glossary_terms  # noqa: E402

DOCS = ROOT / "docs"
GLOSSARY = DOCS / "glossary.yml"
FENCE = re.compile(r"^([ \t]*)(```+).*?^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]+`")
DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.DOTALL)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$).+?(?<![\\$])\$")
GLOSS = re.compile(r"（[^（）\n]*）")


def prose(text: str) -> str:
    """The page without code: blank lines keep the line numbers of what is left."""

    def blank(match: re.Match) -> str:
        return "\n" * match.group(0).count("\n")

    text = INLINE_CODE.sub("", FENCE.sub(blank, text))
    text = DISPLAY_MATH.sub(blank, text)
    return INLINE_MATH.sub("", text)


def _avoid_pattern(wrong: str) -> re.Pattern:
    """An avoided variant: a whole word if it is English, any substring if Chinese."""
    if wrong.isascii():
        return re.compile(r"(?<![\w-])" + re.escape(wrong) + r"s?(?![\w-])")
    return re.compile(re.escape(wrong))


def _is_gloss(line: str, start: int, end: int, term: str) -> bool:
    """Is line[start:end] an English gloss, in （…） right after ``term`` or beside
    it?"""
    for paren in GLOSS.finditer(line):
        if paren.start() < start and end < paren.end():
            before = line[: paren.start()].rstrip("*_ ")
            return before.endswith(term) or term in paren.group(0)
    return False


def _en_pattern(term: str) -> re.Pattern:
    return re.compile(
        r"(?<![\w-])" + re.escape(term).replace(r"\ ", r"[\s-]+") + r"s?(?![\w-])",
        re.IGNORECASE,
    )


def glossary_problems(docs: Path = DOCS, glossary: Path = GLOSSARY) -> list[str]:
    """Every use of an avoided term in a zh page, and every glossary term an en page
    uses whose Chinese term its zh twin never uses."""
    terms = load_terms(glossary)
    avoided = [
        (term, wrong, _avoid_pattern(wrong))
        for term in terms
        for wrong in term["avoid"]
    ]
    problems = []
    for zh_page in sorted((docs / "zh").rglob("*.md")):
        rel = zh_page.relative_to(docs / "zh")
        if rel.as_posix() == "glossary.md":
            continue
        zh_text = prose(zh_page.read_text(encoding="utf-8"))
        for number, line in enumerate(zh_text.splitlines(), start=1):
            for term, wrong, pattern in avoided:
                if wrong not in line:  # cheap test first: most lines hold no variant
                    continue
                hits = [
                    m
                    for m in pattern.finditer(line)
                    if not (
                        wrong.isascii()
                        and _is_gloss(line, m.start(), m.end(), term["zh"])
                    )
                ]
                if hits:
                    problems.append(
                        f"{zh_page}:{number}: '{wrong}' goes against the glossary: "
                        f"write '{term['zh']}' ({term['en']}); see docs/glossary.yml"
                    )
        en_page = docs / "en" / rel
        if not en_page.is_file():
            continue
        en_text = prose(en_page.read_text(encoding="utf-8"))
        for term in terms:
            found = _en_pattern(term["en"]).search(en_text)
            # A capitalised use is a name or a title ("Attention Is All You Need"):
            # the zh page may quote it in English.
            quoted = (
                found is not None
                and found.group(0)[0].isupper()
                and found.group(0) in zh_text
            )
            if found and not quoted and term["zh"] not in zh_text:
                problems.append(
                    f"{zh_page}: the en page uses '{found.group(0)}' but this page "
                    f"never uses the glossary's '{term['zh']}'; see docs/glossary.yml"
                )
    return problems


def test_glossary_data_is_well_formed() -> None:
    terms = load_terms(GLOSSARY)
    assert len(terms) >= 60
    by_zh = {t["zh"]: t for t in terms}
    # Decided once (issue 12): each of these names one concept on every page.
    assert {
        "反向传播",
        "梯度累积",
        "微调",
        "缓冲区",
        "钩子",
        "微批次",
        "预热",
        "主干",
        "分类头",
        "适配器",
        "分片",
        "秩",
        "rank",
        "集合通信",
        "图中断",
        "即时执行",
        "权重绑定",
        "epoch",
        "批次大小",
        "词元",
        "Tensor Core",
        "注意力",
        "多头注意力",
        "旋转位置编码",
    } <= set(by_zh)
    assert (
        "骨干" in by_zh["主干"]["avoid"] and "张量核心" in by_zh["Tensor Core"]["avoid"]
    )
    assert {"批大小", "批量大小"} <= set(by_zh["批次大小"]["avoid"])
    assert "token" in by_zh["词元"]["avoid"]
    assert all(
        t["avoid"]
        for t in terms
        if t["zh"] not in {"张量", "模块", "梯度", "嵌入", "推理"}
    ), "terms without avoid"


def test_zh_pages_use_the_glossary_terms() -> None:
    problems = glossary_problems()
    assert not problems, "\n".join(problems)


def _docs(tmp_path: Path, zh: str, en: str) -> Path:
    for lang, text in (("zh", zh), ("en", en)):
        (tmp_path / lang).mkdir(parents=True, exist_ok=True)
        (tmp_path / lang / "page.md").write_text(text, encoding="utf-8")
    return tmp_path


ZH = (
    "# 训练 { #t }\n\n反向传播计算梯度。\n\n"
    "```python\nx = 1  # 反向传递 in code is not prose\n```\n"
)
EN = "# Training { #t }\n\nThe backward pass computes the gradient.\n"


def test_clean_pages_pass(tmp_path: Path) -> None:
    assert glossary_problems(_docs(tmp_path, ZH, EN)) == []


def test_planted_wrong_term_is_reported_with_file_line_and_fix(tmp_path: Path) -> None:
    zh = ZH.replace("反向传播计算梯度。", "反向传播计算梯度。\n\n再做一次反向传递。")
    problems = glossary_problems(_docs(tmp_path, zh, EN))
    assert len(problems) == 1
    assert re.search(
        r"zh/page\.md:5: '反向传递' goes against the glossary: write '反向传播' "
        r"\(backward pass\)",
        problems[0],
    ), problems


def test_planted_missing_term_is_reported(tmp_path: Path) -> None:
    en = EN + "\nGradient accumulation sums gradients over micro-batches.\n"
    problems = glossary_problems(_docs(tmp_path, ZH, en))
    assert len(problems) == 1 and "'梯度累积'" in problems[0], problems


def test_english_variant_matches_whole_words_and_allows_a_gloss(tmp_path: Path) -> None:
    zh = (
        "# 词元 { #t }\n\n模型读的是**词元**（token），"
        "分词器（tokenizer）把文本切开。\n\n"
        "输出层与嵌入共享权重（权重绑定，weight tying）。\n\n"
        "公式 $F_\\text{token} = 6N$ 不算正文。\n"
    )
    en = "# Tokens { #t }\n\nThe model reads tokens.\n"
    assert glossary_problems(_docs(tmp_path, zh, en)) == []
    planted = zh + "\n每个 token 都能看到前面的词元。\n"
    problems = glossary_problems(_docs(tmp_path, planted, en))
    assert len(problems) == 1 and re.search(
        r"page\.md:9: 'token'.*write '词元'", problems[0]
    )


def test_two_meanings_of_rank_are_two_terms(tmp_path: Path) -> None:
    zh = "# 秩 { #t }\n\n每个 rank 写一个分片；LoRA 的更新量是秩为 $r$ 的矩阵。\n"
    en = "# Rank { #t }\n\nEach rank writes a shard; LoRA learns a rank-$r$ update.\n"
    assert glossary_problems(_docs(tmp_path, zh, en)) == []
    problems = glossary_problems(
        _docs(tmp_path, zh.replace("每个 rank", "每个进程编号"), en)
    )
    assert len(problems) == 1 and "write 'rank'" in problems[0], problems


def test_a_bad_glossary_entry_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "glossary.yml"
    bad.write_text(
        "terms:\n  - {zh: 反向传播, en: backward pass, avoid: [反向传播算法]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="overlaps"):
        load_terms(bad)


# Readers never see the article the handbook started from (issue 12): pages correct a
# common mistake in a "常见误解 / Common misconception" box instead of citing it.
BANNED = {"zh": ("原文",), "en": ("original article", "the article's")}


def banned_phrases(docs: Path = DOCS) -> list[str]:
    found = []
    for lang, phrases in BANNED.items():
        for page in sorted((docs / lang).rglob("*.md")):
            for number, line in enumerate(
                page.read_text(encoding="utf-8").splitlines(), 1
            ):
                found += [
                    f"{page}:{number}: '{p}'" for p in phrases if p in line.lower()
                ]
    return found


def test_no_page_refers_to_the_original_article() -> None:
    found = banned_phrases()
    assert not found, "\n".join(found)


def test_banned_phrase_check_can_fail(tmp_path: Path) -> None:
    docs = _docs(
        tmp_path, ZH + "\n原文写错了。\n", EN + "\nThe original article says so.\n"
    )
    found = banned_phrases(docs)
    assert (
        len(found) == 2 and "'原文'" in found[0] and "original article" in found[1]
    ), found


def test_table_has_one_row_per_term_with_notes() -> None:
    terms = load_terms(GLOSSARY)
    rows = table(terms, "zh").splitlines()
    assert rows[0] == "| 中文 | English | 不要写作 | 说明 |"
    assert len(rows) == 2 + len(terms)
    assert any(r.startswith("| 词元 | token | token、令牌 | ") for r in rows), rows
    plain = table([{"zh": "梯度", "en": "gradient", "avoid": []}], "en").splitlines()
    assert plain == [
        "| 中文 | English | Avoid in Chinese |",
        "| --- | --- | --- |",
        "| 梯度 | gradient | — |",
    ]


def test_search_keeps_the_transformer_terms_whole() -> None:
    import jieba

    words = glossary_terms(GLOSSARY)
    assert {"注意力", "多头注意力", "旋转位置编码"} <= set(words)
    sentence = "多头注意力配合旋转位置编码"
    before = set(jieba.lcut(sentence))
    for word in words:
        jieba.add_word(word)
    after = set(jieba.lcut(sentence))
    assert {"多头注意力", "旋转位置编码"} <= after, (before, after)


if __name__ == "__main__":
    found = glossary_problems()
    print("\n".join(found) or "ok: the zh pages follow docs/glossary.yml")
    sys.exit(1 if found else 0)
