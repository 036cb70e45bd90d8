"""What a reader meets in a real browser, on every page of both languages.

Each page is loaded once in a fresh profile (cold cache) and the facts are collected in one
pass: console errors, requests to other hosts, bytes transferred, ``<html lang>``, the h1
count, the heading order, images without alt text, raw TeX left in the text, the verified
stamp, the cumulative layout shift, and on a notebook page its outputs and download link.
The tests below assert on those facts, page by page; key pages are photographed in the
same load.  Interactions (language switcher, search, copy button, palette toggle, phone
layout) have their own tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from browsersite import LANGS, ROOT, page_path, site_pages
from pagecheck import extract_blocks
from pagefacts import SCREENSHOT_PAGES

pytestmark = pytest.mark.browser

PAGES = site_pages()
CASES = [(lang, page) for page in PAGES for lang in LANGS]
IDS = [f"{lang}/{page}" for lang, page in CASES]
PAGE_BUDGET = 400_000  # bytes on first load, an ordinary page
NOTEBOOK_BUDGET = 800_000  # a notebook page inlines Jupyter's stylesheet
CLS_BUDGET = 0.1  # web.dev's "good" cumulative layout shift


def _formulas(lang: str, page: str) -> bool:
    source = ROOT / "docs" / lang / f"{page}.md"
    return source.is_file() and "$" in re.sub(
        r"```.*?```", "", source.read_text("utf-8"), flags=re.DOTALL
    )


@pytest.mark.parametrize(("lang", "page"), CASES, ids=IDS)
def test_page_loads_without_errors_or_foreign_requests(
    facts, lang: str, page: str
) -> None:
    info = facts[f"{lang}/{page}"]
    assert info["status"] == 200
    assert info["errors"] == [], f"console errors on {lang}/{page}"
    assert info["failed"] == [], f"requests that failed (404...) on {lang}/{page}"
    assert info["foreign"] == [], f"requests leaving the site from {lang}/{page}"


@pytest.mark.parametrize(("lang", "page"), CASES, ids=IDS)
def test_accessibility_basics(facts, lang: str, page: str) -> None:
    info = facts[f"{lang}/{page}"]
    assert info["lang"] == lang, "<html lang> does not match the page's language"
    assert info["h1"] == 1, f"{info['h1']} h1 elements"
    levels = [level for level, _ in info["headings"]]
    skipped = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert not skipped, f"heading levels skip: {skipped} in {info['headings']}"
    assert info["imagesWithoutAlt"] == [], "images without alt text"
    assert info["searchDialogName"], "the search dialog has no accessible name"


@pytest.mark.parametrize(("lang", "page"), CASES, ids=IDS)
def test_math_is_rendered(facts, lang: str, page: str) -> None:
    info = facts[f"{lang}/{page}"]
    assert info["rawTex"] == [], "raw TeX visible in the page text"
    if _formulas(lang, page):
        assert info["katex"] > 0, "the page has formulas but no KaTeX output"


@pytest.mark.parametrize(("lang", "page"), CASES, ids=IDS)
def test_page_weight(facts, lang: str, page: str) -> None:
    info = facts[f"{lang}/{page}"]
    budget = NOTEBOOK_BUDGET if page.startswith("notebooks/") else PAGE_BUDGET
    assert 0 < info["bytes"] <= budget, (
        f"{lang}/{page}: {info['bytes']} bytes on first load"
    )


@pytest.mark.parametrize(("lang", "page"), CASES, ids=IDS)
def test_layout_does_not_shift_while_loading(facts, lang: str, page: str) -> None:
    # Late fonts or images without a size move the text a reader has started on.
    shift = facts[f"{lang}/{page}"]["layoutShift"]
    assert shift is not None and shift <= CLS_BUDGET, f"{lang}/{page}: CLS {shift}"


@pytest.mark.parametrize(("lang", "page"), CASES, ids=IDS)
def test_verified_stamp(facts, lang: str, page: str) -> None:
    info = facts[f"{lang}/{page}"]
    assert info["stamp"], "no verified stamp on the page"
    # Only a run of exactly this content counts: a missing or stale record fails.
    assert info["stampState"] in ("ok", "none_to_run"), (
        info["stampState"],
        info["stamp"],
    )
    if info["stampState"] == "ok":
        assert "torch" in info["stamp"], info["stamp"]


@pytest.mark.parametrize(("lang", "page"), CASES, ids=IDS)
def test_switcher_links_to_the_same_page(facts, lang: str, page: str) -> None:
    switcher = facts[f"{lang}/{page}"]["switcher"]
    assert switcher == {other: page_path(other, page) for other in LANGS}, switcher


# --- interactions -------------------------------------------------------------------------


# Every page's switcher links are checked above (test_switcher_links_to_the_same_page);
# clicking through is the same script on every page, so one page of each kind is driven.
@pytest.mark.parametrize("page", ["practice", "notebooks/practice"])
def test_language_switcher_lands_on_the_same_page(context, page: str) -> None:
    tab = context.new_page()
    tab.goto(page_path("zh", page))
    for there in ("en", "zh"):  # there, and back again, by the switcher alone
        tab.locator(".md-header .md-select").first.hover()
        link = tab.locator(f'.md-select__link[hreflang="{there}"]').first
        with tab.expect_navigation():
            link.click()
        assert urlparse(tab.url).path == page_path(there, page)
        assert tab.evaluate("document.documentElement.lang") == there


SEARCHES = [
    # (language of the page searched from, query, page that must be found)
    ("zh", "交叉熵", "practice"),
    ("zh", "SimpleNet", "practice"),
    ("en", "cross-entropy", "practice"),
    ("en", "SimpleNet", "practice"),
]


@pytest.mark.parametrize(("lang", "query", "expected"), SEARCHES)
def test_search_finds_pages_of_the_readers_language(
    context, lang: str, query: str, expected: str
) -> None:
    tab = context.new_page()
    tab.goto(page_path(lang, "index"))
    box = tab.locator("input.md-search__input")
    box.click()  # the header's search field opens the search dialog
    box.fill(query)
    box.press("End")  # material reacts to key events, not to fill() alone
    results = tab.locator(".md-search-result__item > a")
    results.first.wait_for(timeout=15_000)
    paths = [
        urlparse(href).path
        for href in results.evaluate_all("links => links.map(a => a.href)")
    ]
    other = "en" if lang == "zh" else "zh"
    wrong = [p for p in paths if p.startswith("/en/") != (lang == "en")]
    assert not wrong, f"{other} results on a {lang} page: {wrong}"
    assert page_path(lang, expected) in paths, paths


@pytest.mark.parametrize("lang", LANGS)
def test_copy_button_copies_exactly_the_code(browser, base_url: str, lang: str) -> None:
    context = browser.new_context(
        base_url=base_url, permissions=["clipboard-read", "clipboard-write"]
    )
    tab = context.new_page()
    tab.goto(page_path(lang, "practice"))
    sources = [
        b.code
        for b in extract_blocks(ROOT / "docs" / lang / "practice.md")
        if b.syntax == "python"
    ]
    blocks = tab.locator("div.language-python.highlight")
    for index in (0, 1):
        block = blocks.nth(index)
        block.hover()
        block.locator("button[data-md-type=copy], button.md-clipboard").first.click()
        copied = tab.evaluate("navigator.clipboard.readText()")
        assert copied.strip("\n") == sources[index].strip("\n")
    context.close()


def test_palette_toggle_switches_and_persists(context) -> None:
    tab = context.new_page()
    tab.goto(page_path("zh", "practice"))
    scheme = "document.body.getAttribute('data-md-color-scheme')"
    before = tab.evaluate(scheme)
    tab.locator('form[data-md-component="palette"] label:visible').first.click()
    after = tab.evaluate(scheme)
    assert {before, after} == {"default", "slate"}
    tab.reload()
    assert tab.evaluate(scheme) == after, "the chosen scheme did not survive a reload"
    tab.goto(page_path("en", "index"))
    assert tab.evaluate(scheme) == after, (
        "the chosen scheme did not carry to another page"
    )


# The contrast of an element's text with the background it is drawn on (WCAG 2 formula).
CONTRAST_JS = """selector => {
  const lum = c => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
      .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c;
    }
    return 'rgb(255, 255, 255)';
  };
  const el = document.querySelector(selector);
  if (!el) return null;
  const [a, b] = [lum(getComputedStyle(el).color), lum(background(el))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""
CONTRAST_TARGETS = {  # what a reader reads -> the selector of one such element
    "body text": "article p",
    "header title": ".md-header__topic .md-ellipsis",
    "link": "article p a[href]",
    "navigation": ".md-nav__link",
}


def test_text_contrast_passes_wcag_aa_in_both_schemes(context) -> None:
    tab = context.new_page()
    tab.goto(page_path("en", "practice"))
    ratios = {}
    for scheme in range(2):
        for name, selector in CONTRAST_TARGETS.items():
            ratios[(scheme, name)] = tab.evaluate(CONTRAST_JS, selector)
        tab.locator('form[data-md-component="palette"] label:visible').first.click()
    missing = [key for key, ratio in ratios.items() if ratio is None]
    assert not missing, f"no element to measure for {missing}"
    low = {key: round(ratio, 2) for key, ratio in ratios.items() if ratio < 4.5}
    assert not low, f"WCAG AA needs 4.5:1 for text, got {low} (scheme 0 light, 1 dark)"


@pytest.mark.parametrize("lang", LANGS)
def test_phone_navigation_and_code_scrolling(
    browser, base_url: str, lang: str, screenshots: Path
) -> None:
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": 375, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    tab = context.new_page()
    tab.goto(page_path(lang, "practice"))
    overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    code = tab.evaluate("""() => [...document.querySelectorAll('article pre > code')].map(c =>
        [c.scrollWidth > c.clientWidth, getComputedStyle(c).overflowX])""")
    assert code and all(style in ("auto", "scroll") for _, style in code), code
    assert any(wide for wide, _ in code), (
        "expected at least one code block wider than a phone"
    )
    tab.screenshot(path=screenshots / f"phone-{lang}-practice.png")
    tab.locator('label[for="__drawer"]:visible').first.click()
    drawer = tab.locator("nav.md-nav--primary")
    drawer.wait_for(state="visible")
    target = tab.locator(
        "nav.md-nav--primary a.md-nav__link[href]",
        has_text=re.compile("术语表|Glossary"),
    ).first
    target.click()
    tab.wait_for_url(re.compile(r"/glossary/$"))
    tab.screenshot(path=screenshots / f"phone-{lang}-glossary.png")
    context.close()


@pytest.mark.parametrize(
    ("lang", "page"),
    [(lang, page) for page in SCREENSHOT_PAGES if page in PAGES for lang in LANGS],
)
def test_screenshots_of_key_pages(facts, lang: str, page: str) -> None:
    shot = facts[f"{lang}/{page}"]["screenshot"]
    assert shot is not None and shot > 10_000, (
        f"the screenshot of {lang}/{page} looks empty"
    )
