"""The figures hook: what pages embed is what the figure modules draw, and nothing stale."""

import re
import sys
import types
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from figures import render
from hooks import chapter_figures as hook

ROOT = Path(__file__).resolve().parent.parent
EMBED = re.compile(r"\]\(figures/([^)\s]+\.svg)\)")


def defined_files() -> set[str]:
    return {
        render.file_name(chapter, name)
        for chapter in render.chapters()
        for name in render.figures_of(chapter)
    }


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_embed_exactly_the_defined_figures(lang: str) -> None:
    embedded = {
        m.group(1)
        for page in (ROOT / "docs" / lang).glob("*.md")
        for m in EMBED.finditer(page.read_text(encoding="utf-8"))
    }
    defined = defined_files()
    assert embedded <= defined, f"embedded but drawn by no module: {embedded - defined}"
    assert defined <= embedded, (
        f"drawn but shown on no {lang} page: {defined - embedded}"
    )


@pytest.fixture
def fake_chapter(monkeypatch: pytest.MonkeyPatch):
    """A figure module ``figures.fake`` whose FIGURES the test sets."""
    module = types.ModuleType("figures.fake")
    monkeypatch.setitem(sys.modules, "figures.fake", module)
    return module


def line_figure(lang: str) -> Figure:
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0], label=lang)
    return fig


def test_render_gives_both_languages_and_stable_bytes(fake_chapter) -> None:
    fake_chapter.FIGURES = {"line": line_figure}
    first = render.render_chapter("fake")
    assert set(first) == {("zh", "fake-line.svg"), ("en", "fake-line.svg")}
    assert first[("zh", "fake-line.svg")].startswith(b"<?xml")
    assert render.render_chapter("fake") == first  # no dates or random ids in the SVG


def test_render_refuses_what_is_not_a_figure(fake_chapter) -> None:
    fake_chapter.FIGURES = {"bad": lambda lang: [1, 2]}
    with pytest.raises(TypeError, match=r"figures/fake.py:bad\('zh'\) returned list"):
        render.render_chapter("fake")


def test_module_without_figures_is_refused(fake_chapter) -> None:
    with pytest.raises(ValueError, match="must define a non-empty FIGURES"):
        render.figures_of("fake")


def test_sync_writes_caches_and_removes_stale(
    fake_chapter, tmp_path, monkeypatch
) -> None:
    calls = []

    def counted(lang: str) -> Figure:
        calls.append(lang)
        return line_figure(lang)

    fake_chapter.FIGURES = {"line": counted}
    monkeypatch.setattr(render, "chapters", lambda: ["fake"])
    monkeypatch.setattr(hook, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(hook, "cache_key", lambda chapter: "k1")
    docs = tmp_path / "docs"
    stale = docs / "en" / "figures" / "gone-old.svg"
    stale.parent.mkdir(parents=True)
    stale.write_text("<svg/>")

    assert hook.sync_figures(docs) == {"figures": 2, "written": 2, "removed": 1}
    assert (docs / "zh" / "figures" / "fake-line.svg").is_file()
    assert not stale.exists()
    assert hook.sync_figures(docs)["written"] == 0  # cached and unchanged: no rewrite
    assert calls == ["zh", "en"]

    monkeypatch.setattr(hook, "cache_key", lambda chapter: "k2")  # code changed
    hook.sync_figures(docs)
    assert calls == ["zh", "en", "zh", "en"]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["fake-k2"]


def test_failing_figure_fails_the_build_naming_it(fake_chapter, tmp_path, monkeypatch):
    def broken(lang: str) -> Figure:
        raise RuntimeError("loss is nan")

    fake_chapter.FIGURES = {"broken": broken}
    monkeypatch.setattr(render, "chapters", lambda: ["fake"])
    monkeypatch.setattr(hook, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(hook, "cache_key", lambda chapter: "k")
    with pytest.raises(
        hook.FigureError, match="figures/fake.py: RuntimeError: loss is nan"
    ):
        hook.sync_figures(tmp_path / "docs")
