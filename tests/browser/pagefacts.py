"""Every page's facts, collected in one load per page (tests/browser/test_reader.py and
test_notebooks_download.py assert on them; the ``facts`` fixture is in conftest.py)."""

from __future__ import annotations

import json
from urllib.parse import urlparse

from browsersite import ROOT, SCREENSHOTS, page_path
from filelock import FileLock

WEIGHTS = ROOT / "build" / "page-weights.json"

# Runs before the page's own scripts: sums every layout shift not caused by input.
CLS_JS = """window.__layoutShift = 0;
new PerformanceObserver(list => {
  for (const entry of list.getEntries())
    if (!entry.hadRecentInput) window.__layoutShift += entry.value;
}).observe({type: 'layout-shift', buffered: true});"""
# Run in the page: everything the per-page tests check, in one round trip.
FACTS_JS = """() => {
  const article = document.querySelector('article') || document.body;
  const headings = [...article.querySelectorAll('h1,h2,h3,h4,h5,h6')]
    .map(h => [Number(h.tagName[1]), h.textContent.trim().slice(0, 60)]);
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, .katex, script, style').forEach(n => n.remove());
  const resources = performance.getEntriesByType('resource');
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    lang: document.documentElement.lang,
    h1: document.querySelectorAll('h1').length,
    headings,
    imagesWithoutAlt: [...document.querySelectorAll('img')]
      .filter(i => !(i.getAttribute('alt') || '').trim()).map(i => i.src.slice(0, 80)),
    rawTex: (clone.textContent.match(/\\\\[(\\[]|\\$\\$|\\\\frac|\\\\mathbf/g) || []),
    katex: document.querySelectorAll('.katex').length,
    stamp: (document.querySelector('.verified-stamp') || {}).textContent || null,
    stampState: (document.querySelector('.verified-stamp') || {dataset: {}}).dataset.state
      || null,
    searchDialogName: (document.querySelector('.md-search[role=dialog]')
      || {getAttribute: () => null}).getAttribute('aria-label'),
    switcher: Object.fromEntries([...document.querySelectorAll('.md-select__link[hreflang]')]
      .map(a => [a.hreflang, new URL(a.href).pathname])),
    bytes: (nav ? nav.transferSize : 0) +
           resources.reduce((sum, r) => sum + (r.transferSize || 0), 0),
    raw: (nav ? nav.decodedBodySize : 0) +
         resources.reduce((sum, r) => sum + (r.decodedBodySize || 0), 0),
    resources: resources.map(r => r.name),
    layoutShift: window.__layoutShift,
    notebook: document.querySelector('.jp-Notebook') && {
      outputs: document.querySelectorAll('.jp-OutputArea-output').length,
      imageAlts: [...document.querySelectorAll('.jp-OutputArea-output img')]
        .map(i => i.getAttribute('alt') || ''),
      download: ([...document.querySelectorAll('a[download]')]
        .find(a => a.textContent.includes('.ipynb')) || {href: null}).href,
    },
  };
}"""
# Pages photographed while their facts are collected (build/screenshots/), for a person
# to look at; each must not be blank.
SCREENSHOT_PAGES = ["index", "practice", "glossary", "notebooks/practice"]


class PageFacts(dict):
    """``facts["en/math"]``: that page's facts, collected the first time a test asks.

    Each page is loaded once per test process; tests/conftest.py sends every test of
    one page to the same process (xdist_group), so with several processes each page is
    still loaded once, and the pages are shared out between them.
    """

    def __init__(self, browser, base_url: str) -> None:
        super().__init__()
        self.browser, self.base_url = browser, base_url

    def __missing__(self, key: str) -> dict:
        lang, page = key.split("/", 1)
        self[key] = info = collect_facts(self.browser, self.base_url, lang, page)
        with FileLock(WEIGHTS.with_suffix(".lock")):  # one record for all processes
            weights = (
                json.loads(WEIGHTS.read_text("utf-8")) if WEIGHTS.is_file() else {}
            )
            weights[key] = {"transferred": info["bytes"], "uncompressed": info["raw"]}
            WEIGHTS.write_text(
                json.dumps(weights, indent=1, sort_keys=True) + "\n", encoding="utf-8"
            )
        return info


def collect_facts(browser, base_url: str, lang: str, page: str) -> dict:
    """Load one page in a fresh profile (cold cache); collect what the tests check."""
    context = browser.new_context(base_url=base_url)
    context.add_init_script(CLS_JS)
    tab = context.new_page()
    errors: list[str] = []
    failed: list[str] = []
    foreign: list[str] = []
    own = urlparse(base_url).netloc

    def on_console(msg):  # every console error, nothing filtered
        if msg.type == "error":
            errors.append(f"{msg.text} ({(msg.location or {}).get('url', '')})")

    def on_response(response):  # every request answered 4xx/5xx
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    def on_request(route):
        if urlparse(route.request.url).netloc not in (own, ""):
            foreign.append(route.request.url)
            return route.abort()
        return route.continue_()

    tab.on("console", on_console)
    tab.on("response", on_response)
    tab.on(
        "requestfailed",
        lambda req: (
            failed.append(f"failed {req.url}: {req.failure}")
            if urlparse(req.url).netloc == own
            else None
        ),
    )
    tab.on("pageerror", lambda err: errors.append(f"page error: {err}"))
    tab.route("**/*", on_request)
    # "load": the whole document is parsed (a busy machine can go 500 ms without a request
    # while a long page is still being parsed); then "networkidle", for the requests the
    # page's scripts make after load (search index, sitemap).
    response = tab.goto(page_path(lang, page), wait_until="load")
    tab.wait_for_load_state("networkidle")
    info = tab.evaluate(FACTS_JS)
    info.update(
        status=response.status if response else None,
        errors=errors,
        failed=failed,
        foreign=foreign,
        screenshot=None,
    )
    if page in SCREENSHOT_PAGES:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{lang}-{page.replace('/', '-')}.png"
        tab.screenshot(path=path)
        info["screenshot"] = path.stat().st_size
    context.close()
    return info
