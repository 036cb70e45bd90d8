"""Figures of the applications chapter, drawn from the chapter's own generated data.

``spectrograms`` shows one generated clip of each audio class (``AudioConfig()``, the
page's run): its first 32 ms of waveform above its whole log-spectrogram from
``log_spectrogram``, the image the ``SpectrogramCNN`` classifies.  Nothing is trained,
so the figure costs a fraction of a second.
"""

from __future__ import annotations

import functools

import torch
from matplotlib.figure import Figure

from figures.style import new_figure, text
from snippets.applications.audio import (
    CLASSES,
    AudioConfig,
    log_spectrogram,
    make_dataset,
)

NAMES_ZH = {"sine": "正弦波", "square": "方波", "chirp": "啁啾", "noise": "白噪声"}


@functools.cache
def audio_examples() -> tuple[AudioConfig, torch.Tensor, torch.Tensor]:
    """One clip per class ``(4, S)`` and its log-spectrogram ``(4, F, T)``."""
    cfg = AudioConfig()
    clips, labels = make_dataset(cfg)
    feats = log_spectrogram(clips, cfg.n_fft, cfg.hop_length)[:, 0]  # (N, F, T)
    hz_per_bin = cfg.sample_rate / cfg.n_fft
    picks = [int((labels == c).nonzero()[0]) for c in range(len(CLASSES))]
    # Above sample_rate / 2 harmonics alias; show a square wave whose 3rd and 5th
    # harmonics fit below it (fundamental 250-400 Hz), the one with the least noise.
    loudest_hz = feats.mean(dim=2).argmax(dim=1) * hz_per_bin  # (N,)
    profile = feats.mean(dim=2)  # (N, F): mean log-magnitude per frequency bin
    contrast = profile.max(dim=1).values - profile.median(dim=1).values  # (N,)
    squares = (labels == CLASSES.index("square")) & (loudest_hz >= 250)
    squares &= loudest_hz <= 400
    candidates = squares.nonzero().flatten()
    picks[CLASSES.index("square")] = int(candidates[contrast[candidates].argmax()])
    return cfg, clips[picks], feats[picks]


def spectrograms(lang: str) -> Figure:
    cfg, clips, feats = audio_examples()
    fig, axes = new_figure(
        ncols=4, nrows=2, width=7.0, height=3.6, height_ratios=(1, 2)
    )
    t_ms = torch.arange(128) / cfg.sample_rate * 1000  # the first 32 ms
    seconds = clips.shape[1] / cfg.sample_rate
    for col, kind in enumerate(CLASSES):
        wave_ax, spec_ax = axes[0, col], axes[1, col]
        wave_ax.plot(t_ms, clips[col, :128], linewidth=0.8)
        wave_ax.set_title(text(lang, NAMES_ZH[kind], kind))
        wave_ax.set_yticks([])
        wave_ax.grid(False)
        spec_ax.imshow(
            feats[col],
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(0, seconds * 1000, 0, cfg.sample_rate / 2),
        )
        spec_ax.grid(False)
        spec_ax.set_xlabel(text(lang, "时间（毫秒）", "time (ms)"))
        if col:
            spec_ax.set_yticklabels([])
    axes[1, 0].set_ylabel(text(lang, "频率（Hz）", "frequency (Hz)"))
    return fig


FIGURES = {"spectrograms": spectrograms}
