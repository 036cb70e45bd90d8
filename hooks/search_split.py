"""MkDocs hook: one search index per language, so a reader searches the pages of their language.

mkdocs-static-i18n merges both languages into one ``search/search_index.json`` and neither
material's search options nor static-i18n can filter it by language.  After the last language
is built this hook splits the merged index: ``search/search_index.json`` keeps the zh (default)
entries, ``en/search/search_index.json`` gets the en entries with their ``en/`` prefix
removed.  Material's search fetches ``<base>/search/search_index.json`` and resolves result
links against the same ``base``, so the en pages' ``base`` (in the ``__config`` JSON material
writes into every page) is pointed at ``en/``; nothing else in material reads ``base`` while
``navigation.instant`` and versioning are off.  Re-check after a material upgrade: a missing
``__config`` script fails the build instead of silently searching both languages.

Code blocks (``<pre>``) are left out of the index: they were 60 % of its text, and every
reader's first page load fetches the whole index. Prose, headings and inline code stay
searchable, and a block is found through the section that explains it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page

INDEX = Path("search") / "search_index.json"
CODE_BLOCK = re.compile(r"<pre\b.*?</pre>", re.DOTALL)
CONFIG_SCRIPT = re.compile(
    r'(<script id="__config" type="application/json">)(.*?)(</script>)', re.DOTALL
)


def _i18n(config: MkDocsConfig):
    plugin = config.plugins.get("i18n")
    if plugin is None:
        raise PluginError(
            "hooks/search_split.py needs the mkdocs-static-i18n plugin (i18n)"
        )
    return plugin


def _languages(config: MkDocsConfig) -> tuple[str, list[str]]:
    """The default language and the other built languages."""
    plugin = _i18n(config)
    default = plugin.default_language
    return default, [lang for lang in plugin.build_languages if lang != default]


def split_index(index: dict, others: list[str]) -> dict[str, dict]:
    """Split a merged material search index into {'': default, lang: index with un-prefixed
    locations} by the ``lang/`` prefix of each entry's location."""
    parts: dict[str, dict] = {"": {**index, "docs": []}}
    for lang in others:
        parts[lang] = {
            **index,
            "docs": [],
            "config": {**index["config"], "lang": [lang]},
        }
    for doc in index["docs"]:
        doc = {**doc, "text": CODE_BLOCK.sub(" ", doc.get("text", ""))}
        for lang in others:
            if doc["location"] == lang or doc["location"].startswith(f"{lang}/"):
                location = doc["location"][len(lang) :].lstrip("/")
                parts[lang]["docs"].append({**doc, "location": location})
                break
        else:
            parts[""]["docs"].append(doc)
    return parts


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    default, _ = _languages(config)
    lang = getattr(page.file, "locale", default)
    if lang == default:
        return output
    match = CONFIG_SCRIPT.search(output)
    if match is None:
        raise PluginError(
            f'{page.file.src_uri}: material\'s <script id="__config"> was not found; '
            "hooks/search_split.py cannot point this page's search at its language"
        )
    data = json.loads(match.group(2))
    data["base"] = f"{data['base'].rstrip('/')}/{lang}/"
    return output[: match.start(2)] + json.dumps(data) + output[match.end(2) :]


FULL_CONTENT = "handbook_content_with_code"  # where the page keeps its code meanwhile


@event_priority(100)  # before material's search plugin (0) reads page.content
def on_page_context(context, page: Page, config: MkDocsConfig, nav):
    """Hand the search plugin the page without its code blocks: they stay out of the
    index, and parsing their highlighted HTML was most of the search plugin's time.
    ``hooks/search_restore.py`` puts the code back before the page is rendered."""
    if page.content:
        setattr(page, FULL_CONTENT, page.content)
        page.content = CODE_BLOCK.sub(" ", page.content)
    return context


# after static-i18n (-100) has built every language and merged the index
@event_priority(-200)
def on_post_build(config: MkDocsConfig) -> None:
    if _i18n(config).building:
        return  # an inner per-language build: the merged index is written later
    site = Path(config.site_dir)
    merged = site / INDEX
    if not merged.is_file():
        raise PluginError(f"{merged} was not written; is the search plugin enabled?")
    _, others = _languages(config)
    for prefix, part in split_index(
        json.loads(merged.read_text(encoding="utf-8")), others
    ).items():
        target = site / prefix / INDEX
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            json.dumps(part, ensure_ascii=False, separators=(",", ":")),
            encoding="utf-8",
        )
