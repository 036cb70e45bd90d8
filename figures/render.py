"""Render a chapter's figures to SVG files, one per language.

``render_chapter("training", Path("docs"))`` writes
``docs/zh/figures/training-<name>.svg`` and ``docs/en/figures/training-<name>.svg`` for
every entry of ``figures.training.FIGURES``. The build hook adds a content cache on top.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

LANGS = ("zh", "en")
FIGURES_DIR = Path(__file__).resolve().parent


def chapters() -> list[str]:
    """The chapter modules that define figures."""
    return sorted(
        p.stem
        for p in FIGURES_DIR.glob("*.py")
        if p.stem not in {"__init__", "__main__", "render", "style"}
    )


def figures_of(chapter: str) -> dict[str, Callable[[str], Figure]]:
    module = importlib.import_module(f"figures.{chapter}")
    found = getattr(module, "FIGURES", None)
    if not isinstance(found, dict) or not found:
        raise ValueError(f"figures/{chapter}.py must define a non-empty FIGURES dict")
    return found


def svg_bytes(fig: Figure) -> bytes:
    """The figure as SVG, with no date in it so unchanged figures keep their bytes."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "handbook"}):  # stable clip-path ids
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def file_name(chapter: str, name: str) -> str:
    return f"{chapter}-{name}.svg"


def render_chapter(chapter: str) -> dict[tuple[str, str], bytes]:
    """``{(lang, file name): svg}`` for every figure of the chapter, both languages."""
    out = {}
    for name, draw in figures_of(chapter).items():
        for lang in LANGS:
            fig = draw(lang)
            if not isinstance(fig, Figure):
                raise TypeError(
                    f"figures/{chapter}.py:{name}({lang!r}) returned "
                    f"{type(fig).__name__}, not a matplotlib Figure"
                )
            out[(lang, file_name(chapter, name))] = svg_bytes(fig)
    return out


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write only changed bytes, so `mkdocs serve` sees no edit when nothing changed."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True
