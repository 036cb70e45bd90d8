"""Build the real site (mkdocs build --strict) and check what a reader gets."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urljoin

import pytest
from pagecheck import ROOT
from project import make_project, mkdocs_build
from sitecheck import third_party_references, unmapped_blocks

pytestmark = pytest.mark.site
PAGES = sorted(
    p.relative_to(ROOT / "docs" / "zh").with_suffix("").as_posix()
    for p in (ROOT / "docs" / "zh").rglob("*.md")
)


@pytest.fixture(scope="session")
def site(built_site: Path) -> Path:
    return built_site  # tests/conftest.py: one strict build per session


def page_html(site: Path, lang: str, page: str) -> Path:
    prefix = site / "en" if lang == "en" else site
    return prefix / ("" if page == "index" else page) / "index.html"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_is_built_with_its_language(site: Path, lang: str) -> None:
    for page in PAGES:
        html = page_html(site, lang, page).read_text(encoding="utf-8")
        assert f'<html lang="{lang}"' in html, page
        other = "en" if lang == "zh" else "zh"
        assert f'hreflang="{other}"' in html, f"{page}: no language switcher link"


def test_switcher_lands_on_the_same_page(site: Path) -> None:
    for page in PAGES:
        path = "" if page == "index" else f"{page}/"
        for lang, other, own_url, other_url in (
            ("zh", "en", f"/{path}", f"/en/{path}"),
            ("en", "zh", f"/en/{path}", f"/{path}"),
        ):
            html = page_html(site, lang, page).read_text(encoding="utf-8")
            links = re.findall(rf'<a href="([^"]*)" hreflang="{other}"', html)
            assert links, f"{lang}/{page}: no switcher link to {other}"
            # Links are relative (or root-absolute on the home page): resolve them.
            assert {urljoin(own_url, link) for link in links} == {other_url}, (
                lang,
                page,
                links,
            )


def test_every_built_code_block_was_executed(site: Path) -> None:
    assert unmapped_blocks(site) == []


def test_an_unexecuted_block_in_the_build_is_caught(site: Path, tmp_path: Path) -> None:
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    page = page_html(copy, "en", "practice")
    html = page.read_text(encoding="utf-8")
    extra = '<div class="language-python highlight"><pre><code>print("never run")</code></pre></div>'
    page.write_text(
        html.replace("</article>", extra + "</article>", 1), encoding="utf-8"
    )
    problems = unmapped_blocks(copy)
    assert (
        len(problems) == 1
        and "never run" in problems[0]
        and "en/practice" in problems[0]
    )


def test_no_request_leaves_the_sites_origin(site: Path, tmp_path: Path) -> None:
    assert third_party_references(site) == []
    planted = tmp_path / "planted.html"
    planted.write_text('<script src="https://cdn.example.org/x.js"></script>')
    (tmp_path / "planted.css").write_text(
        "@font-face{src:url(https://fonts.example.org/a.woff2)}"
    )
    found = third_party_references(tmp_path)
    assert len(found) == 2, found


def test_math_is_rendered_at_build_time(site: Path) -> None:
    html = page_html(site, "zh", "practice").read_text(encoding="utf-8")
    assert 'class="katex-display"' in html and "<math" in html
    assert "\\(" not in html and "\\[" not in html, "raw TeX left in the page"
    assert (site / "assets" / "katex" / "katex.min.css").is_file()
    assert any((site / "assets" / "katex" / "fonts").glob("*.woff2"))


def test_search_index_segments_chinese(site: Path) -> None:
    index = json.loads(
        (site / "search" / "search_index.json").read_text(encoding="utf-8")
    )
    zh_text = " ".join(
        d["text"] for d in index["docs"] if not d["location"].startswith("en/")
    )
    separator = re.compile(index["config"]["separator"])
    tokens = set(separator.split(zh_text))
    # A word from the middle of a sentence must be its own token, or search cannot find it.
    assert "反向传播" in tokens


# --- planted faults: a small project with one page per language -------------------------


def test_planted_project_builds_and_a_rebuild_shows_the_edited_snippet(
    tmp_path: Path,
) -> None:
    page = (
        "# T { #t }\n\n$$\nY = X W^\\top + b\n$$\n\n"
        '```python\n--8<-- "snippets/demo.py:say"\n```\n'
    )
    demo = "# --8<-- [start:say]\nprint({!r})\n# --8<-- [end:say]\n"
    config = make_project(
        tmp_path, page, page, {"__init__.py": "", "demo.py": demo.format("one")}
    )
    built = tmp_path / "out" / "en" / "index.html"
    for word in ("one", "two"):  # the second build has the first one's caches
        (tmp_path / "snippets" / "demo.py").write_text(demo.format(word), "utf-8")
        result = mkdocs_build(config, tmp_path / "out")
        assert result.returncode == 0, result.stderr
        html = built.read_text("utf-8")
        assert f"'{word}'" in html, word
    assert "'one'" not in html, "a cached conversion showed the old snippet"
    assert list((tmp_path / "build" / "render-cache").glob("*.json"))


def test_latex_error_fails_the_build_naming_file_and_line(tmp_path: Path) -> None:
    bad = "# T { #t }\n\nText.\n\n$$\ny = \\frac{1}{\n$$\n"
    good = "# T { #t }\n\nText.\n"
    result = mkdocs_build(make_project(tmp_path, good, bad), tmp_path / "out")
    assert result.returncode != 0
    assert re.search(
        r"index\.md:6: LaTeX error in formula 'y = \\\\frac\{1\}\{'", result.stderr
    ), result.stderr


def test_missing_include_fails_the_build(tmp_path: Path) -> None:
    bad = '# T { #t }\n\n```python\n--8<-- "snippets/missing.py:model"\n```\n'
    result = mkdocs_build(make_project(tmp_path, bad, bad), tmp_path / "out")
    assert result.returncode != 0
    assert "snippets/missing.py" in result.stderr and "index.md" in result.stderr, (
        result.stderr
    )


def test_a_failing_notebook_fails_the_build_naming_its_cell(tmp_path: Path) -> None:
    # Two stale notebooks run side by side in worker processes (hooks/notebooks.py):
    # the failure of one still stops the build with its file, line and cell.
    page = "# T { #t }\n\nText.\n"
    config = make_project(tmp_path, page, page)
    head = '# %% [markdown] lang="zh"\n# # 标题\n# %% [markdown] lang="en"\n# # Title\n'
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "good.py").write_text(head + "# %%\nprint(1)\n")
    (tmp_path / "notebooks" / "bad.py").write_text(
        head + '# %%\nprint(1)\n# %%\nraise ValueError("planted")\n'
    )
    result = mkdocs_build(config, tmp_path / "out")
    assert result.returncode != 0
    assert re.search(
        r"notebooks/bad\.py:7: notebook cell 2 failed: ValueError: planted",
        result.stderr,
    ), result.stderr


def test_broken_link_fails_the_build_every_time(tmp_path: Path) -> None:
    bad = "# T { #t }\n\nSee [nowhere](missing.md#x).\n"
    config = make_project(tmp_path, bad, bad)
    for _ in range(2):  # a conversion that warned is never taken from the cache
        result = mkdocs_build(config, tmp_path / "out")
        assert result.returncode != 0
        assert "missing.md" in result.stderr, result.stderr


# --- publishing: absolute URLs, one sitemap, stamps, notebook pages ----------------------


def test_canonical_links_and_sitemap_are_absolute_for_both_languages(
    site: Path,
) -> None:
    from hooks.seo import HEAD_ALTERNATE

    site_url = os.environ.get("SITE_URL", "http://127.0.0.1:8000/")
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    assert not (site / "en" / "sitemap.xml").exists(), "a second, partial sitemap"
    for page in PAGES:
        path = "" if page == "index" else f"{page}/"
        urls = {"zh": f"{site_url}{path}", "en": f"{site_url}en/{path}"}
        for lang, url in urls.items():
            html = page_html(site, lang, page).read_text(encoding="utf-8")
            assert f'<link rel="canonical" href="{url}">' in html, (lang, page)
            # Material fetches sitemap.xml beside every head alternate: none may be left.
            assert not HEAD_ALTERNATE.search(html), (lang, page)
            assert f"<loc>{url}</loc>" in sitemap, url
            for other, other_url in urls.items():
                assert f'hreflang="{other}" href="{other_url}"' in sitemap, (url, other)


def test_every_page_is_stamped_verified_for_its_content(site: Path) -> None:
    for lang in ("zh", "en"):
        for page in PAGES:
            html = page_html(site, lang, page).read_text(encoding="utf-8")
            states = re.findall(r'class="verified-stamp" data-state="([a-z_]+)"', html)
            assert states in (["ok"], ["none_to_run"]), (lang, page, states)


def test_notebook_pages_share_one_stylesheet_and_have_heading_ids(site: Path) -> None:
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
    sheets = set()
    for lang in ("zh", "en"):
        for name in notebooks:
            html = page_html(site, lang, f"notebooks/{name}").read_text(
                encoding="utf-8"
            )
            assert "<style" not in html, f"{lang}/notebooks/{name}: inline CSS"
            sheets |= set(
                re.findall(r'href="[./]*(assets/notebook-[0-9a-f]+\.css)"', html)
            )
            ids = re.findall(r'<h[1-6] id="([^"]*)"', html)
            assert ids and all(ids), f"{lang}/notebooks/{name}: empty heading ids {ids}"
            assert 'data-state="ok"' in html
    assert len(sheets) == 1 and (site / sheets.pop()).is_file()


def test_search_dialog_has_an_accessible_name(site: Path) -> None:
    for lang, name in (("zh", "搜索"), ("en", "Search")):
        html = page_html(site, lang, "practice").read_text(encoding="utf-8")
        assert f'role="dialog" aria-label="{name}"' in html, lang
