"""MkDocs hook: stamp each page with the torch version and device its code last ran with.

``tests/pagecheck.py`` (``run_page``) writes ``build/verified/<lang>/<page>.json`` after it has
executed every python block of a page and compared the shown outputs: the torch version, the
device ``pick_device("auto")`` chose, the number of blocks, the date and the page's sha256.
This hook reads that record at build time and writes it at the end of the page, in the page's
language.  Nothing is typed by hand: without a record the page says it has none, and if the
page changed after the run the stamp says so instead of claiming it was verified.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

RECORDS = Path("build") / "verified"
TEXT = {
    "zh": {
        "ok": "已验证：本页的 {blocks} 段 Python 代码于 {date}（UTC）用 torch {torch} 在 {device} "
              "上由 tests/pagecheck.py 运行，显示的输出与实际输出一致。",
        "none_to_run": "本页没有 Python 代码块（{date} 检查）。",
        "stale": "本页在最近一次运行（{date}，torch {torch}，{device}）之后有改动，尚未重新验证。",
        "missing": "本页尚无运行记录：构建时没有找到 tests/pagecheck.py 对本页的运行结果。",
    },
    "en": {
        "ok": "Verified: the {blocks} Python blocks of this page ran with torch {torch} "
              "on {device} on {date} (UTC) under tests/pagecheck.py, and the outputs shown "
              "match.",
        "none_to_run": "This page has no Python blocks (checked {date}).",
        "stale": "This page changed after its last run ({date}, torch {torch}, {device}) and has "
                 "not been verified again.",
        "missing": "No run record for this page: the build found no tests/pagecheck.py result "
                   "for it.",
    },
}


def stamp(source: Path, rel: str, lang: str, records: Path) -> tuple[str, str]:
    """(state, sentence) for the page ``rel`` (e.g. 'en/practice.md')."""
    texts = TEXT.get(lang, TEXT["en"])
    record_path = records / Path(rel).with_suffix(".json")
    if not record_path.is_file():
        return "missing", texts["missing"]
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if record.get("sha256") != hashlib.sha256(source.read_bytes()).hexdigest():
        return "stale", texts["stale"].format(**record)
    state = "ok" if record.get("blocks") else "none_to_run"
    return state, texts[state].format(**record)


def on_page_content(content: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.abs_src_path is None or 'class="verified-stamp"' in content:
        return content  # generated pages (notebooks) carry their own build-time record
    docs = Path(config.docs_dir).resolve()
    source = Path(page.file.abs_src_path).resolve()
    try:
        rel = source.relative_to(docs).as_posix()
    except ValueError:
        return content
    root = Path(config.config_file_path).resolve().parent
    lang = getattr(page.file, "locale", rel.split("/")[0])
    state, sentence = stamp(source, rel, lang, root / RECORDS)
    return (content + f'<p class="verified-stamp" data-state="{state}"><small>'
            f"{html.escape(sentence)}</small></p>")
