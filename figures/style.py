"""One look for every figure: page-width sizes, a CJK font, readable in both themes.

Figures are drawn on an opaque white card with dark ink, so the same SVG reads on the
light and the dark theme; text is embedded as glyph outlines (``svg.fonttype: path``),
so Chinese labels render without the reader having the font.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # off-screen: the build has no display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

RC = {
    "font.family": ["DejaVu Sans", "WenQuanYi Micro Hei"],  # Latin, then CJK fallback
    "font.size": 10,
    "axes.prop_cycle": matplotlib.cycler(color=COLORS),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": "#222222",
    "axes.labelcolor": "#222222",
    "xtick.color": "#222222",
    "ytick.color": "#222222",
    "svg.fonttype": "path",
    "svg.hashsalt": "handbook",  # stable ids: the same figure gives the same bytes
    "axes.unicode_minus": False,  # the CJK font has no U+2212 minus sign
}
plt.rcParams.update(RC)


def new_figure(
    ncols: int = 1, nrows: int = 1, width: float = 7.0, height: float = 3.2, **kwargs
) -> tuple[Figure, object]:
    """A figure sized for the page column (inches; the page shows about 7 in wide).

    Returns ``(fig, axes)`` like ``plt.subplots``; the figure is not registered with
    pyplot's global state, so building many figures leaks nothing.
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def text(lang: str, zh: str, en: str) -> str:
    """The label in the figure's language."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    return zh if lang == "zh" else en
