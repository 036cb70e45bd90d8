"""zh and en pages must match in code, formulas, heading ids, links and images."""

import re
from pathlib import Path

import pytest
from parity import DOCS, compare_docs, mask_text

PAGE = """# Title { #title }

Prose $y = \\sigma(Wx + b)$ and [a link](other.md#x).

## Section { #section }

$$
Y = X W^\\top + b
$$

```python
print("same code")
```
"""


def test_repository_pages_are_in_parity() -> None:
    report = compare_docs(DOCS)
    assert report, "no pages found"
    drift = [problem for problems in report.values() for problem in problems]
    assert not drift, "\n".join(drift)


def _docs(tmp_path: Path, zh: str, en: str | None) -> Path:
    for lang, text in (("zh", zh), ("en", en)):
        if text is not None:
            (tmp_path / lang).mkdir(parents=True, exist_ok=True)
            (tmp_path / lang / "page.md").write_text(text, encoding="utf-8")
    return tmp_path


def test_identical_structure_passes(tmp_path: Path) -> None:
    translated = PAGE.replace("Prose", "正文").replace("# Title", "# 标题")
    assert compare_docs(_docs(tmp_path, translated, PAGE)) == {"page.md": []}


@pytest.mark.parametrize(
    ("zh", "en", "message"),
    [
        (PAGE, None, r"exists in zh only; add .*en/page\.md"),
        (PAGE.replace("same code", "other code"), PAGE, r"code blocks #1 differ"),
        (PAGE.replace("W^\\top", "W"), PAGE, r"formulas #1 differ"),
        (PAGE.replace("\\sigma", "f"), PAGE, r"formulas #2 differ"),
        (PAGE.replace("#section", "#part"), PAGE, r"heading ids #2 differ"),
        (PAGE.replace(" { #section }", ""), PAGE, r"heading without an explicit id"),
        (PAGE.replace("other.md#x", "other.md#y"), PAGE, r"links #1 differ"),
        (PAGE + "\n![plot](loss.png)\n", PAGE, r"1 images in zh, 0 in en"),
    ],
)
def test_planted_drift_is_reported(
    tmp_path: Path, zh: str, en: str | None, message: str
) -> None:
    problems = compare_docs(_docs(tmp_path, zh, en))["page.md"]
    assert problems
    assert any(re.search(message, p) for p in problems), problems


TEXT_PAGE = """# Memory { #memory }

$$
M = 16\\,\\text{bytes} \\times N \\quad \\text{(fp32 AdamW)}
$$
"""


def test_text_contents_may_differ_by_language(tmp_path: Path) -> None:
    zh = TEXT_PAGE.replace("\\text{bytes}", "\\text{字节}").replace(
        "\\text{(fp32 AdamW)}", "\\text{（fp32 下的 AdamW）}"
    )
    assert compare_docs(_docs(tmp_path, zh, TEXT_PAGE)) == {"page.md": []}


@pytest.mark.parametrize(
    "change",
    [
        ("16", "12"),  # a number outside \text{}
        ("\\times N", "\\times P"),  # a symbol outside \text{}
        ("\\text{bytes}", "\\mathrm{bytes}"),  # \mathrm is not masked
        ("\\text{bytes} ", "\\text{bytes} + 1 "),  # an extra term after the text
    ],
)
def test_planted_fault_outside_text_still_fails(tmp_path: Path, change) -> None:
    planted = TEXT_PAGE.replace(*change)
    assert planted != TEXT_PAGE
    zh = planted.replace(
        "\\text{bytes}", "\\text{字节}"
    )  # translated text stays allowed
    problems = compare_docs(_docs(tmp_path, zh, TEXT_PAGE))["page.md"]
    assert any(re.search(r"formulas #1 differ", p) for p in problems), problems


def test_mask_handles_nested_braces_and_variants() -> None:
    assert mask_text(r"a \text{x {y} z} b") == r"a \text{…} b"
    assert mask_text(r"\textbf{粗} + \textrm{r}") == r"\text{…} + \text{…}"
    assert mask_text(r"\mathrm{softmax}(x)") == r"\mathrm{softmax}(x)"
