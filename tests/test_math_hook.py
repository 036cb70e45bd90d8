"""hooks/katex_math.py renders TeX with KaTeX at build time and fails loudly on bad TeX."""

import pytest
from mkdocs.exceptions import PluginError

from hooks import katex_math as math_hook


def test_inline_and_display_formulas_are_rendered() -> None:
    html = (
        '<p><span class="arithmatex">\\(y = \\sigma(Wx + b)\\)</span></p>'
        '<div class="arithmatex">\\[Y = X W^\\top + b\\]</div>'
    )
    out = math_hook.render_math(html, "", "page.md")
    assert out.count('class="katex"') == 2
    assert 'class="katex-display"' in out
    assert (
        "\\sigma" not in out.split("<annotation")[0]
    )  # TeX only in MathML's annotation


def test_html_escapes_are_undone_before_rendering() -> None:
    out = math_hook.render_math(
        '<span class="arithmatex">\\(a &lt; b\\)</span>', "", "p.md"
    )
    assert "<mo>&lt;</mo>" in out


def test_latex_error_names_file_line_and_message() -> None:
    markdown = "# Title\n\nSome text\n\n$$\n\\frac{1}{\n$$\n"
    html = '<div class="arithmatex">\\[\n\\frac{1}{\n\\]</div>'
    with pytest.raises(
        PluginError, match=r"docs/zh/x\.md:6: LaTeX error .*KaTeX parse error"
    ):
        math_hook.render_math(html, markdown, "docs/zh/x.md")


def test_unknown_command_is_an_error_not_red_text() -> None:
    with pytest.raises(PluginError, match=r"\\notacommand"):
        math_hook.render_math(
            '<span class="arithmatex">\\(\\notacommand\\)</span>', "", "p.md"
        )
