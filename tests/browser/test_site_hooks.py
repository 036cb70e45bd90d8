"""The build hooks behind the reader features, tested without a browser.

search_split (one index per language), verified (the stamp from tests/pagecheck.py's record),
notebooks (language split, failing cell and missing alt text fail the build by name).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from browsersite import ROOT

sys.path.insert(0, str(ROOT / "hooks"))
from notebooks import NotebookError, execute, notebook_for  # noqa: E402
from search_split import split_index  # noqa: E402
from verified import stamp  # noqa: E402


def test_search_index_is_split_by_language() -> None:
    merged = {"config": {"lang": ["en", "zh"]}, "docs": [
        {"location": "", "title": "首页"}, {"location": "practice/#data", "title": "数据"},
        {"location": "en/", "title": "Home"}, {"location": "en/practice/#data", "title": "Data"},
        {"location": "english/", "title": "a zh page whose name starts with en"},
    ]}
    parts = split_index(merged, ["en"])
    assert [d["location"] for d in parts[""]["docs"]] == ["", "practice/#data", "english/"]
    assert [d["location"] for d in parts["en"]["docs"]] == ["", "practice/#data"]
    assert [d["title"] for d in parts["en"]["docs"]] == ["Home", "Data"]
    assert parts["en"]["config"]["lang"] == ["en"]


def _record(tmp_path: Path, page: Path, **fields) -> Path:
    records = tmp_path / "records"
    (records / "en").mkdir(parents=True)
    record = {"blocks": 3, "torch": "2.13.0+cpu", "device": "cpu", "date": "2026-01-02",
              "sha256": hashlib.sha256(page.read_bytes()).hexdigest(), **fields}
    (records / "en" / "x.json").write_text(json.dumps(record), encoding="utf-8")
    return records


def test_stamp_follows_the_run_record(tmp_path: Path) -> None:
    page = tmp_path / "x.md"
    page.write_text("# X { #x }\n", encoding="utf-8")
    state, text = stamp(page, "en/x.md", "en", tmp_path / "none")
    assert state == "missing" and "No run record" in text
    records = _record(tmp_path, page)
    state, text = stamp(page, "en/x.md", "en", records)
    assert state == "ok" and "torch 2.13.0+cpu on cpu" in text and "3 Python blocks" in text
    page.write_text("# X changed { #x }\n", encoding="utf-8")
    state, text = stamp(page, "en/x.md", "en", records)
    assert state == "stale" and "not been verified again" in text
    state, text = stamp(page, "en/x.md", "zh", records)
    assert state == "stale" and "尚未重新验证" in text


BILINGUAL = '''# %% [markdown] lang="zh"
# # 标题
# %% [markdown] lang="en"
# # Title
# %%
x = 1
print(x)
'''


def test_notebook_is_split_by_language_with_identical_code(tmp_path: Path) -> None:
    source = tmp_path / "demo.py"
    source.write_text(BILINGUAL, encoding="utf-8")
    zh, en = notebook_for(source, "zh"), notebook_for(source, "en")
    assert [c.source for c in zh.cells if c.cell_type == "markdown"] == ["# 标题"]
    assert [c.source for c in en.cells if c.cell_type == "markdown"] == ["# Title"]
    assert zh.cells[1].source.startswith('LANG = "zh"')
    assert [c.source for c in zh.cells[2:]] == [c.source for c in en.cells[2:]]


def test_repository_notebooks_run_the_same_code_in_both_languages() -> None:
    for source in sorted((ROOT / "notebooks").glob("*.py")):
        zh, en = notebook_for(source, "zh"), notebook_for(source, "en")
        code = [[c.source for c in nb.cells if c.cell_type == "code"][1:] for nb in (zh, en)]
        assert code[0] == code[1], source
        assert any(c.cell_type == "markdown" for c in zh.cells), source


@pytest.mark.slow
def test_a_failing_cell_or_an_image_without_alt_fails_naming_notebook_and_cell(
        tmp_path: Path) -> None:
    source = tmp_path / "broken.py"
    source.write_text(BILINGUAL + "\n# %%\n1 / 0\n", encoding="utf-8")
    with pytest.raises(NotebookError, match=r"broken\.py:9: notebook cell 4 \(en\) failed: "
                                            r"ZeroDivisionError: division by zero"):
        execute(notebook_for(source, "en"), source, "en")
    source.write_text(BILINGUAL + "\n# %%\nimport base64\nfrom IPython.display import Image\n"
                      "Image(base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAA"
                      "DUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='))\n", encoding="utf-8")
    with pytest.raises(NotebookError, match=r"broken\.py:9: notebook cell 4 \(zh\) shows an "
                                            r"image without alt text"):
        execute(notebook_for(source, "zh"), source, "zh")
