"""MkDocs hook: absolute canonical links and one sitemap with both languages' alternates.

``site_url`` comes from ``$SITE_URL`` (``mkdocs.yml``).  Search engines need absolute URLs:
MkDocs already writes an absolute ``<link rel="canonical">``.  The language alternates go
into the sitemap (``<xhtml:link rel="alternate" hreflang=...>``, one of the three ways search
engines read them), not into each page's head: Material's language selector fetches
``sitemap.xml`` relative to every ``<link rel="alternate">`` of the head, and static-i18n's
per-page alternates made every page request ``<page>/sitemap.xml`` and log a 404.  The
visible language switcher in the header is unchanged.

After the last language is built, ``sitemap.xml`` (and ``sitemap.xml.gz``) at the site's
root lists every page of every language with its alternates, and the per-language
sitemaps static-i18n leaves in ``<lang>/`` are removed, so there is one sitemap, correct
for both languages.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from urllib.parse import urljoin
from xml.sax.saxutils import quoteattr

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page

HEAD_ALTERNATE = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')
_pages: dict[str, dict[str, str]] = {}  # page without language -> {lang: absolute URL}


def _i18n(config: MkDocsConfig):
    plugin = config.plugins.get("i18n")
    if plugin is None:
        raise PluginError("hooks/seo.py needs the mkdocs-static-i18n plugin (i18n)")
    return plugin


def absolute(config: MkDocsConfig, url: str) -> str:
    if not config.site_url:
        raise PluginError("site_url is empty: set SITE_URL (mkdocs.yml reads it)")
    return urljoin(config.site_url.rstrip("/") + "/", url)


def on_pre_build(config: MkDocsConfig) -> None:
    if not _i18n(config).building:
        _pages.clear()


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    plugin = _i18n(config)
    lang = getattr(page.file, "locale", plugin.default_language)
    norm = getattr(page.file, "norm_src_uri", page.file.src_uri)
    _pages.setdefault(norm, {})[lang] = absolute(config, page.url)
    return HEAD_ALTERNATE.sub("", output)


def sitemap(pages: dict[str, dict[str, str]], default: str) -> str:
    """A sitemap whose every URL lists all its language versions (and x-default)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:xhtml="http://www.w3.org/1999/xhtml">',
    ]
    for norm in sorted(pages):
        versions = pages[norm]
        for lang in sorted(versions):
            lines.append(f"  <url>\n    <loc>{versions[lang]}</loc>")
            for other in sorted(versions):
                lines.append(
                    f'    <xhtml:link rel="alternate" hreflang="{other}" '
                    f"href={quoteattr(versions[other])}/>"
                )
            if default in versions:
                lines.append(
                    '    <xhtml:link rel="alternate" hreflang="x-default" '
                    f"href={quoteattr(versions[default])}/>"
                )
            lines.append("  </url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


@event_priority(-200)  # after static-i18n (-100) has built every language
def on_post_build(config: MkDocsConfig) -> None:
    plugin = _i18n(config)
    if plugin.building:
        return
    site = Path(config.site_dir)
    text = sitemap(_pages, plugin.default_language)
    (site / "sitemap.xml").write_text(text, encoding="utf-8")
    (site / "sitemap.xml.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    for lang in plugin.build_languages:
        if lang != plugin.default_language:
            for name in ("sitemap.xml", "sitemap.xml.gz"):
                (site / lang / name).unlink(missing_ok=True)
