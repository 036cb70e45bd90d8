"""Checks on the built site: code blocks map back to executed blocks; nothing third-party.

Run after a build: ``python tests/sitecheck.py site``.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

from pagecheck import ROOT, extract_blocks

# Any reference that makes the browser fetch something (not a plain <a> link).
FETCHING_ATTRS = {
    ("script", "src"),
    ("link", "href"),
    ("img", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("video", "src"),
    ("audio", "src"),
    ("object", "data"),
}
CSS_URL = re.compile(r"url\(\s*['\"]?(https?:)?//", re.IGNORECASE)
CSS_IMPORT = re.compile(r"@import\s+['\"]?(https?:)?//", re.IGNORECASE)


class _CodeAndRefs(HTMLParser):
    """Collects highlighted code blocks (language, text) and fetching references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self.refs: list[tuple[str, str]] = []
        self._lang: str | None = None
        self._depth = 0  # <code> nesting inside a highlight <pre>
        self._text: list[str] = []
        self._in_pre = False

    def handle_starttag(self, tag, attrs):
        attr = dict(attrs)
        for name, value in attrs:
            if (tag, name) in FETCHING_ATTRS and value:
                if tag != "link" or attr.get("rel") not in {"canonical", "alternate"}:
                    self.refs.append((tag, value))
        classes = (attr.get("class") or "").split()
        if tag == "div" and "highlight" in classes:
            langs = [
                c[len("language-") :] for c in classes if c.startswith("language-")
            ]
            self._lang = langs[0] if langs else ""
        elif tag == "pre":
            self._in_pre = True
            if self._lang is None:
                self._lang = (
                    ""  # a <pre> outside a highlight div: an unfenced code block
                )
        elif tag == "code" and self._in_pre:
            self._depth += 1
            self._text = []

    def handle_endtag(self, tag):
        if tag == "code" and self._depth:
            self._depth -= 1
            self.blocks.append((self._lang or "", "".join(self._text)))
        elif tag == "pre":
            self._in_pre = False
            self._lang = None

    def handle_data(self, data):
        if self._depth:
            self._text.append(data)


def parse_html(path: Path) -> _CodeAndRefs:
    parser = _CodeAndRefs()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _norm(code: str) -> str:
    """Lines without trailing spaces, and without blank lines: pytest-codeblocks' parser
    drops the blank lines of a block indented inside an admonition (an exercise's
    solution), and blank lines do not change what Python runs."""
    return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())


def source_page(site: Path, html: Path) -> Path | None:
    """The markdown page an HTML file was built from (None for 404 and the like)."""
    rel = html.relative_to(site).parts
    lang = "en" if rel[0] == "en" else "zh"
    parts = rel[1:] if rel[0] == "en" else rel
    stem = "/".join(parts[:-1]) or "index"
    for candidate in (
        ROOT / "docs" / lang / f"{stem}.md",
        ROOT / "docs" / lang / stem / "index.md",
    ):
        if candidate.is_file():
            return candidate
    return None


def unmapped_blocks(site: Path) -> list[str]:
    """Code blocks of built pages that are not exactly a block the page tests execute."""
    problems = []
    for html in sorted(site.rglob("index.html")):
        source = source_page(site, html)
        if source is None:
            continue
        expected = []
        for block in extract_blocks(source):
            expected.append((block.syntax, _norm(block.code)))
            if block.expected_output is not None:
                expected.append(("text", _norm(block.expected_output)))
        built = [(lang, _norm(text)) for lang, text in parse_html(html).blocks]
        for i, block in enumerate(built):
            if block not in expected:
                problems.append(
                    f"{html.relative_to(site)}: code block #{i + 1} ({block[0] or 'no language'})"
                    f" was not executed by the tests:\n{block[1][:300]}"
                )
        if len(built) != len(expected) and not problems:
            problems.append(
                f"{html.relative_to(site)}: {len(built)} code blocks built, "
                f"{len(expected)} in {source.relative_to(ROOT)}"
            )
    return problems


def third_party_references(site: Path) -> list[str]:
    """Every place in the built site that would make a browser fetch from another host."""
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            for tag, url in parse_html(path).refs:
                if url.startswith(("http:", "https:", "//")):
                    found.append(f"{path.relative_to(site)}: <{tag}> loads {url}")
        elif path.suffix == ".css":
            text = path.read_text(encoding="utf-8", errors="replace")
            if CSS_URL.search(text) or CSS_IMPORT.search(text):
                found.append(f"{path.relative_to(site)}: CSS loads a remote url()")
    return found


if __name__ == "__main__":
    site_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    issues = unmapped_blocks(site_dir) + third_party_references(site_dir)
    print(
        "\n".join(issues)
        or f"{site_dir}: every code block maps to an executed block; "
        "no third-party requests"
    )
    sys.exit(1 if issues else 0)
