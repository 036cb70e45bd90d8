"""MkDocs hook: render LaTeX with KaTeX at build time, so the site needs no math JavaScript.

pymdownx.arithmatex (``generic: true``) wraps each formula as ``\\(...\\)`` or ``\\[...\\]``
in a ``span``/``div`` with class ``arithmatex``.  This hook sends every formula of a page
to one long-lived ``node`` process running KaTeX from ``node_modules`` (pinned in
``package-lock.json``) and replaces it with the rendered HTML.  A LaTeX error fails the
build with the page, the source line and KaTeX's message.  KaTeX's stylesheet and fonts
are copied into the built site, so no request leaves the site's origin.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
KATEX_DIST = ROOT / "node_modules" / "katex" / "dist"
RENDERER = Path(__file__).with_name("katex_render.js")
ASSET_DIR = "assets/katex"

FORMULA = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">'
    r"(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<display>.*?)\\\])"
    r"</(?P=tag)>",
    re.DOTALL,
)


_rendered: dict[tuple[str, bool], str] = {}  # (TeX, display) -> HTML, this process


class KatexRenderer:
    """A KaTeX process that renders one formula per request line."""

    def __init__(self) -> None:
        if not (KATEX_DIST / "katex.min.js").is_file():
            raise PluginError(
                f"KaTeX is not installed in {KATEX_DIST.parent}; run `npm ci` first"
            )
        self.proc = subprocess.Popen(
            ["node", str(RENDERER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=ROOT,
        )

    def render(self, tex: str, display: bool) -> str:
        if (tex, display) in _rendered:  # a rebuild under `mkdocs serve` asks again
            return _rendered[tex, display]
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"tex": tex, "display": display}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply:
            raise ValueError(reply["error"])
        _rendered[tex, display] = reply["html"]
        return reply["html"]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


_renderer: KatexRenderer | None = None


def _get_renderer() -> KatexRenderer:
    global _renderer
    if _renderer is None or _renderer.proc.poll() is not None:
        _renderer = KatexRenderer()
    return _renderer


def source_line(markdown: str, tex: str) -> int:
    """Return the 1-based line of ``markdown`` where ``tex`` starts (0 if not found)."""
    first = tex.strip().splitlines()[0].strip() if tex.strip() else ""
    for number, line in enumerate(markdown.splitlines(), start=1):
        if first and first in line:
            return number
    return 0


def render_math(content: str, markdown: str, src_path: str) -> str:
    """Replace every arithmatex formula in ``content`` with KaTeX's HTML."""

    def replace(match: re.Match[str]) -> str:
        display = match.group("display") is not None
        tex = html.unescape(
            match.group("display") if display else match.group("inline")
        )
        try:
            rendered = _get_renderer().render(tex, display)
        except ValueError as err:
            line = source_line(markdown, tex)
            raise PluginError(
                f"{src_path}:{line}: LaTeX error in formula {tex.strip()!r}: {err}"
            ) from None
        tag = "div" if display else "span"
        return f'<{tag} class="arithmatex">{rendered}</{tag}>'

    return FORMULA.sub(replace, content)


def on_page_content(html_text, page, config, files):
    return render_math(html_text, page.markdown or "", page.file.src_uri)


def on_post_build(config):
    target = Path(config["site_dir"]) / ASSET_DIR
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(KATEX_DIST / "katex.min.css", target / "katex.min.css")
    shutil.copytree(KATEX_DIST / "fonts", target / "fonts", dirs_exist_ok=True)


def on_shutdown():
    global _renderer
    if _renderer is not None:
        _renderer.close()
        _renderer = None
