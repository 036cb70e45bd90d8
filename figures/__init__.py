"""Figures for the chapter pages, drawn from real runs of the ``snippets`` code.

One module per chapter, ``figures/<chapter>.py``, defines ``FIGURES``: a dict from a
short name to ``fn(lang) -> matplotlib.figure.Figure``. The build hook
``hooks/chapter_figures.py`` renders each to
``docs/<lang>/figures/<chapter>-<name>.svg``
(cached on disk by content), and a page embeds it with
``![alt](figures/<chapter>-<name>.svg)``.

Preview while writing: ``python -m figures <chapter>``.
"""
