"""The build hooks behind the reader features, tested without a browser.

search_split (one index per language), verified (the stamp from tests/pagecheck.py's record),
notebooks (language split, failing cell and missing alt text fail the build by name).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from browsersite import ROOT

from hooks.notebooks import NotebookError, execute, notebook_for
from hooks.search_split import split_index
from hooks.verified import fingerprint, stamp, write_record


def test_search_index_is_split_by_language() -> None:
    merged = {
        "config": {"lang": ["en", "zh"]},
        "docs": [
            {"location": "", "title": "首页"},
            {"location": "practice/#data", "title": "数据"},
            {"location": "en/", "title": "Home"},
            {"location": "en/practice/#data", "title": "Data"},
            {"location": "english/", "title": "a zh page whose name starts with en"},
        ],
    }
    parts = split_index(merged, ["en"])
    assert [d["location"] for d in parts[""]["docs"]] == [
        "",
        "practice/#data",
        "english/",
    ]
    assert [d["location"] for d in parts["en"]["docs"]] == ["", "practice/#data"]
    assert [d["title"] for d in parts["en"]["docs"]] == ["Home", "Data"]
    assert parts["en"]["config"]["lang"] == ["en"]


def test_search_index_leaves_code_blocks_out() -> None:
    text = "<p>Use <code>F.linear</code>.</p> <pre><code>y = F.linear(x, w)\n</code></pre> <p>Done</p>"
    merged = {
        "config": {"lang": ["en", "zh"]},
        "docs": [{"location": "en/math/", "title": "Math", "text": text}],
    }
    (doc,) = split_index(merged, ["en"])["en"]["docs"]
    assert doc["text"] == "<p>Use <code>F.linear</code>.</p>   <p>Done</p>"


SNIPPETS_ONLY = """site_name: t
markdown_extensions:
  - pymdownx.snippets:
      base_path: [!relative $config_dir]
      check_paths: true
"""


def _project(tmp_path: Path) -> Path:
    """A project with one page that includes a snippet, expanded as the site does."""
    (tmp_path / "mkdocs.yml").write_text(SNIPPETS_ONLY, "utf-8")
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "demo.py").write_text(
        "# --8<-- [start:hello]\nprint('hello')\n# --8<-- [end:hello]\n", "utf-8"
    )
    (tmp_path / "docs" / "en").mkdir(parents=True)
    page = tmp_path / "docs" / "en" / "x.md"
    page.write_text(
        '# X { #x }\n\n```python\n--8<-- "snippets/demo.py:hello"\n```\n', "utf-8"
    )
    return page


def test_stamp_follows_the_run_record_of_the_page_as_executed(tmp_path: Path) -> None:
    page = _project(tmp_path)
    records = tmp_path / "build" / "verified"
    digest = fingerprint(page, "en/x.md", tmp_path)
    state, text = stamp(digest, "en/x.md", "en", records)
    assert state == "missing" and "No run record" in text
    write_record(tmp_path, "en/x.md", digest, 3, "2.13.0+cpu", "cpu", "2026-01-02")
    state, text = stamp(digest, "en/x.md", "en", records)
    assert (
        state == "ok"
        and "torch 2.13.0+cpu on cpu" in text
        and "3 Python blocks" in text
    )
    # The included snippet changes: the page as executed is not the page any more.
    (tmp_path / "snippets" / "demo.py").write_text(
        "# --8<-- [start:hello]\nprint('changed')\n# --8<-- [end:hello]\n", "utf-8"
    )
    changed = fingerprint(page, "en/x.md", tmp_path)
    assert changed != digest
    state, text = stamp(changed, "en/x.md", "en", records)
    assert state == "stale" and "not been verified again" in text
    state, text = stamp(changed, "en/x.md", "zh", records)
    assert state == "stale" and "尚未重新验证" in text


def test_a_module_the_page_reaches_makes_it_stale_and_no_other(tmp_path: Path) -> None:
    page = _project(tmp_path)
    pkg = tmp_path / "snippets"
    (pkg / "__init__.py").write_text("", "utf-8")
    (pkg / "models").mkdir()
    (pkg / "models" / "__init__.py").write_text("", "utf-8")
    (pkg / "models" / "net.py").write_text("from ..helpers import H\n", "utf-8")
    (pkg / "helpers.py").write_text("H = 1\n", "utf-8")
    (pkg / "tool.py").write_text("T = 1\n", "utf-8")
    (pkg / "other.py").write_text("X = 1\n", "utf-8")
    page.write_text(
        page.read_text("utf-8")
        + "\n```python\nfrom snippets.models import (\n    net,  # the model\n)\n"
        'cmd = ["python", "-m", "snippets.tool"]\n```\n',
        "utf-8",
    )

    def edited(rel: str) -> bool:
        before = fingerprint(page, "en/x.md", tmp_path)
        path = pkg / rel
        path.write_text(path.read_text("utf-8") + "# edited\n", "utf-8")
        return fingerprint(page, "en/x.md", tmp_path) != before

    assert edited("models/net.py")  # imported by name from its package
    assert edited("helpers.py")  # imported by that module, relatively
    assert edited("models/__init__.py")  # runs on import of the package
    assert edited("tool.py")  # run with python -m, named in a string
    assert not edited("other.py")  # reached by nothing on the page
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "net.cpython-311.pyc").write_bytes(b"x")
    assert not edited("other.py")  # bytecode does not count
    (pkg / "weights.json").write_text("{}", "utf-8")
    assert edited("weights.json")  # data files of the package always count


def test_the_snippets_package_imports_no_module_under_a_computed_name() -> None:
    """hooks/fingerprint.py reads imports from the text: a computed module name would be
    a module a page reaches without its stamp noticing an edit of it.  The one dynamic
    import, the benchmark table of `python -m snippets bench`, names its modules as
    literals, so every one of them counts for a page that runs the command."""
    from hooks.fingerprint import reachable_files
    from snippets.__main__ import BENCHMARKS

    for path in sorted((ROOT / "snippets").rglob("*.py")):
        for call in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(call, ast.Call) or ast.unparse(call.func) not in (
                "importlib.import_module",
                "import_module",
                "__import__",
            ):
                continue
            literal = isinstance(call.args[0], ast.Constant)
            assert literal or path.name == "__main__.py", f"{path}:{call.lineno}"
    reached = reachable_files(ROOT, ["!python -m snippets bench train --json"])
    for module, _ in BENCHMARKS.values():
        file = ROOT.joinpath(*module.split(".")).with_suffix(".py")
        assert file in reached, module


BILINGUAL = """# %% [markdown] lang="zh"
# # 标题
# %% [markdown] lang="en"
# # Title
# %%
x = 1
print(x)
"""


def test_notebook_is_split_by_language_with_identical_code(tmp_path: Path) -> None:
    source = tmp_path / "demo.py"
    source.write_text(BILINGUAL, encoding="utf-8")
    zh, en = notebook_for(source, "zh"), notebook_for(source, "en")
    assert [c.source for c in zh.cells if c.cell_type == "markdown"] == ["# 标题"]
    assert [c.source for c in en.cells if c.cell_type == "markdown"] == ["# Title"]
    assert [c.source for c in zh.cells[1:]] == [c.source for c in en.cells[1:]]


def test_a_notebook_has_the_same_bytes_on_every_build(tmp_path: Path) -> None:
    # Random cell ids made every build a cache miss of the converted HTML, and every
    # download a different file.
    source = tmp_path / "demo.py"
    source.write_text(BILINGUAL, encoding="utf-8")
    for lang in ("zh", "en"):
        first, again = (nbformat.writes(notebook_for(source, lang)) for _ in range(2))
        assert first == again


def test_a_code_cell_with_a_language_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "demo.py"
    source.write_text(BILINGUAL + '\n# %% lang="en"\nprint(2)\n', encoding="utf-8")
    with pytest.raises(NotebookError, match=r"demo\.py:9: a code cell has no language"):
        notebook_for(source, "en")


def test_repository_notebooks_run_the_same_code_in_both_languages() -> None:
    for source in sorted((ROOT / "notebooks").glob("*.py")):
        zh, en = notebook_for(source, "zh"), notebook_for(source, "en")
        code = [
            [c.source for c in nb.cells if c.cell_type == "code"] for nb in (zh, en)
        ]
        assert code[0] == code[1], source
        assert any(c.cell_type == "markdown" for c in zh.cells), source


@pytest.mark.slow
def test_a_failing_cell_or_an_image_without_alt_fails_naming_notebook_and_cell(
    tmp_path: Path,
) -> None:
    source = tmp_path / "broken.py"
    source.write_text(BILINGUAL + "\n# %%\n1 / 0\n", encoding="utf-8")
    with pytest.raises(
        NotebookError,
        match=r"broken\.py:9: notebook cell 3 \(en\) failed: "
        r"ZeroDivisionError: division by zero",
    ):
        execute(notebook_for(source, "en"), source, "en")
    source.write_text(
        BILINGUAL + "\n# %%\nimport base64\nfrom IPython.display import Image\n"
        "Image(base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAA"
        "DUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='))\n",
        encoding="utf-8",
    )
    with pytest.raises(
        NotebookError,
        match=r"broken\.py:9: notebook cell 3 \(zh\) shows an "
        r"image without alt text",
    ):
        execute(notebook_for(source, "zh"), source, "zh")


CACHED = """# %% [markdown] lang="zh"
# # 缓存
# %% [markdown] lang="en"
# # Cache
# %%
import base64
from IPython.display import Image, display
TOOL = "snippets.helper"  # a module named in the code counts, as for `python -m`
print(open({data!r}).read())
display(Image(base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8'
                               'z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='),
              metadata={{"alt": {{"zh": "一个点", "en": "one dot"}}}}))
"""


@pytest.mark.slow
def test_notebook_executes_once_per_content_and_never_shows_a_stale_result(
    tmp_path: Path,
) -> None:
    from hooks.notebooks import executed_code, language_notebook

    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "__init__.py").write_text("", "utf-8")
    (tmp_path / "snippets" / "helper.py").write_text("X = 1\n", "utf-8")
    data = tmp_path / "data.txt"
    data.write_text("first", "utf-8")
    (tmp_path / "notebooks").mkdir()
    source = tmp_path / "notebooks" / "demo.py"
    source.write_text(CACHED.format(data=str(data)), "utf-8")

    outputs, record, cached = executed_code(source, tmp_path, None)
    assert not cached and record["torch"] and outputs[0][0]["text"] == "first\n"
    assert record == executed_code(source, tmp_path, None)[1]
    assert executed_code(source, tmp_path, None)[2], "an unchanged notebook ran again"
    zh = language_notebook(source, "zh", outputs)
    en = language_notebook(source, "en", outputs)
    assert [c.source for c in zh.cells][1:] == [c.source for c in en.cells][1:]
    alts = [nb.cells[1].outputs[1]["metadata"]["image/png"]["alt"] for nb in (zh, en)]
    assert alts == ["一个点", "one dot"]

    data.write_text("second", "utf-8")  # a file the code read changed
    outputs, _, cached = executed_code(source, tmp_path, None)
    assert not cached and outputs[0][0]["text"] == "second\n"
    (tmp_path / "snippets" / "extra.py").write_text("X = 1\n", "utf-8")  # not reached
    assert executed_code(source, tmp_path, None)[2], "an unrelated module re-ran it"
    (tmp_path / "snippets" / "helper.py").write_text("X = 2\n", "utf-8")  # reached
    assert not executed_code(source, tmp_path, None)[2]


def test_notebook_html_has_stable_heading_ids_katex_math_and_no_inline_css() -> None:
    from hooks.notebooks import render

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# 训练一个模型\n\n损失 $L = -\\log p$。\n\n"
            "## 训练一个模型\n\n$$y = Wx + b$$"
        ),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    body, tokens, css = render(nb)
    assert [(t["id"], [c["id"] for c in t["children"]]) for t in tokens] == [
        ("训练一个模型", ["训练一个模型_1"])
    ]
    assert 'id="训练一个模型"' in body and 'href="#训练一个模型_1"' in body
    assert body.count('class="katex"') == 2 and 'class="katex-display"' in body
    assert "$L" not in body and "$$" not in body  # no TeX left in the text
    assert "<style" not in body and css.startswith("notebook-") and css.endswith(".css")


def test_code_keeps_its_text_and_colours_without_spans_that_draw_nothing() -> None:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    from hooks.code_markup import strip_plain_tokens

    code = "total = sum(x * 2 for x in range(3))  # six\nprint(total)\n"
    html = highlight(code, PythonLexer(), HtmlFormatter())
    light = strip_plain_tokens(html)
    assert '<span class="n">' in html and '<span class="n">' not in light
    assert light.count('<span class="k">') == html.count('<span class="k">')
    assert light.count('<span class="c1">') == 1
    text = re.compile(r"<[^>]+>")
    assert text.sub("", light) == text.sub("", html)
    # The claim behind it: names are drawn in the code's own colour.
    import material

    stylesheets = Path(material.__file__).parent / "templates/assets/stylesheets"
    css = next(stylesheets.glob("main.*.min.css")).read_text("utf-8")
    assert "--md-code-hl-name-color:var(--md-code-fg-color)" in css
    palette = (ROOT / "docs" / "stylesheets" / "palette.css").read_text("utf-8")
    assert "--md-code-hl-name-color" not in palette
