"""MkDocs hook: stamp each page with the run that verified exactly this content.

``tests/pagecheck.py`` writes ``build/verified/<lang>/<page>.json`` after it has executed every
python block of a page and compared the shown outputs: the torch version, the device, the
number of blocks, the date and the page's **digest** (``hooks/fingerprint.py``: the markdown
with its includes expanded plus the digest of the ``snippets`` modules its code can reach,
so editing an included or imported snippet makes the page unverified, and editing a module
it never reaches does not).  This hook writes that record at
the end of the page, in the page's language.  Without a record the page says it has none;
a record for other content says the page changed after its run.

A build for publishing (``HANDBOOK_REQUIRE_VERIFIED=1``, set by ``scripts/publish.py``) fails
before rendering anything unless every page of every language is verified for exactly the
content being built, and names the pages that are not.
"""

from __future__ import annotations

import html
import json
import os
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
if (
    str(ROOT) not in sys.path
):  # MkDocs loads hooks by file; the shared helpers are hooks.*
    sys.path.insert(0, str(ROOT))
from hooks import includes  # noqa: E402
from hooks.fingerprint import page_digest  # noqa: E402

RECORDS = Path("build") / "verified"  # under the project root
REQUIRE_ENV = "HANDBOOK_REQUIRE_VERIFIED"
VERIFIED = ("ok", "none_to_run")  # the states a published page may have
TEXT = {
    "zh": {
        "ok": "已验证：本页的 {blocks} 段 Python 代码于 {date}（UTC）用 torch {torch} 在 {device} "
        "上由 tests/pagecheck.py 运行，显示的输出与实际输出一致。",
        "none_to_run": "本页没有 Python 代码块（{date} 检查）。",
        "stale": "本页或它引用的代码在最近一次运行（{date}，torch {torch}，{device}）之后有改动，"
        "尚未重新验证。",
        "missing": "本页尚无运行记录：构建时没有找到 tests/pagecheck.py 对本页的运行结果。",
    },
    "en": {
        "ok": "Verified: the {blocks} Python blocks of this page ran with torch {torch} "
        "on {device} on {date} (UTC) under tests/pagecheck.py, and the outputs shown "
        "match.",
        "none_to_run": "This page has no Python blocks (checked {date}).",
        "stale": "This page or the code it includes changed after its last run ({date}, "
        "torch {torch}, {device}) and has not been verified again.",
        "missing": "No run record for this page: the build found no tests/pagecheck.py result "
        "for it.",
    },
}


def fingerprint(
    source: Path,
    rel: str,
    root: Path = ROOT,
    snippet_preprocessor=None,
) -> str:
    """The digest a record must carry for the page ``source`` (``rel``: 'en/x.md')."""
    expanded = includes.expand(
        source.read_text(encoding="utf-8"),
        rel,
        snippet_preprocessor,
        Path(root) / "mkdocs.yml",
    )
    return page_digest(expanded, Path(root))


def write_record(
    root: Path, rel: str, digest: str, blocks: int, torch: str, device: str, date: str
) -> Path:
    """Write the run record of page ``rel`` (atomically); return its path."""
    target = Path(root) / RECORDS / Path(rel).with_suffix(".json")
    target.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "page": rel,
        "blocks": blocks,
        "torch": torch,
        "device": device,
        "digest": digest,
        "date": date,
    }
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def stamp(digest: str, rel: str, lang: str, records: Path) -> tuple[str, str]:
    """(state, sentence) for page ``rel`` whose content now has ``digest``.

    state is ``ok``, ``none_to_run`` (verified, no python blocks), ``stale`` or ``missing``.
    """
    texts = TEXT.get(lang, TEXT["en"])
    record_path = Path(records) / Path(rel).with_suffix(".json")
    if not record_path.is_file():
        return "missing", texts["missing"]
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if record.get("digest") != digest:
        return "stale", texts["stale"].format(**record)
    state = "ok" if record.get("blocks") else "none_to_run"
    return state, texts[state].format(**record)


def unverified_pages(root: Path = ROOT, snippet_preprocessor=None) -> list[str]:
    """``'<lang>/<page>.md: <state>'`` for every page of ``docs/`` not verified as it is."""
    docs, found = Path(root) / "docs", []
    for source in sorted(docs.glob("*/**/*.md")):
        rel = source.relative_to(docs).as_posix()
        digest = fingerprint(source, rel, root, snippet_preprocessor)
        state, _ = stamp(digest, rel, rel.split("/")[0], Path(root) / RECORDS)
        if state not in VERIFIED:
            found.append(f"{rel}: {state}")
    return found


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def _preprocessor(config: MkDocsConfig):
    return includes.preprocessor(config.markdown_extensions, config.mdx_configs)


_build: dict = {}  # this build's include preprocessor


def on_pre_build(config: MkDocsConfig) -> None:
    _build.update(pp=_preprocessor(config))
    i18n = config.plugins.get("i18n")
    if os.environ.get(REQUIRE_ENV) != "1" or (i18n is not None and i18n.building):
        return
    stale = unverified_pages(_root(config), _build["pp"])
    if stale:
        raise PluginError(
            f"{REQUIRE_ENV}=1: {len(stale)} page(s) are not verified for the content being "
            "built; run them (python tests/pagecheck.py PAGE, or pytest tests/test_pages.py) "
            "and build again:\n  " + "\n  ".join(stale)
        )


def on_page_content(
    content: str, page: Page, config: MkDocsConfig, files: Files
) -> str:
    if page.file.abs_src_path is None or 'class="verified-stamp"' in content:
        return content  # generated pages (notebooks) carry their own build-time record
    docs = Path(config.docs_dir).resolve()
    source = Path(page.file.abs_src_path).resolve()
    try:
        rel = source.relative_to(docs).as_posix()
    except ValueError:
        return content
    root = _root(config)
    lang = getattr(page.file, "locale", rel.split("/")[0])
    digest = fingerprint(source, rel, root, _build["pp"])
    state, sentence = stamp(digest, rel, lang, root / RECORDS)
    return (
        content + f'<p class="verified-stamp" data-state="{state}"><small>'
        f"{html.escape(sentence)}</small></p>"
    )
