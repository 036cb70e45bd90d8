"""snippets/applications/audio.py"""

import math

import pytest
import torch

from snippets.applications.audio import (
    CLASSES,
    AudioConfig,
    log_spectrogram,
    make_clip,
    make_dataset,
    train_audio,
)
from snippets.train import TrainConfig


def losses(history: list[dict[str, float]]) -> list[float]:
    return [row["train_loss"] for row in history]


def test_dataset_shapes_balance_and_determinism() -> None:
    cfg = AudioConfig(clips_per_class=10)
    clips, labels = make_dataset(cfg)
    assert clips.shape == (40, cfg.num_samples) and labels.shape == (40,)
    assert torch.bincount(labels).tolist() == [10] * len(CLASSES)
    again, _ = make_dataset(cfg)
    torch.testing.assert_close(again, clips, rtol=0, atol=0)


def test_spectrogram_matches_the_stft_formula() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 256)
    n_fft, hop = 64, 32
    feats = log_spectrogram(x, n_fft, hop)
    assert feats.shape == (2, 1, n_fft // 2 + 1, 1 + 256 // hop)
    # the formula on frames of the reflect-padded signal (center=True)
    half = n_fft // 2
    padded = torch.nn.functional.pad(x[:, None], (half, half), mode="reflect")
    frames = padded[:, 0].unfold(-1, n_fft, hop)  # (B, T, N)
    n = torch.arange(n_fft)
    k = torch.arange(n_fft // 2 + 1)
    basis = torch.exp(-2j * math.pi * k[:, None] * n[None, :] / n_fft)  # (K, N)
    window = torch.hann_window(n_fft)
    manual = (frames * window).to(torch.complex64) @ basis.T.to(torch.complex64)
    expected = torch.log(manual.abs() + 1e-3).transpose(1, 2)  # (B, K, T)
    torch.testing.assert_close(feats[:, 0], expected, rtol=1e-4, atol=1e-4)


def test_a_sine_peaks_at_its_frequency_bin() -> None:
    cfg = AudioConfig(noise_max=0.0)
    clip = make_clip("sine", cfg, torch.Generator().manual_seed(0))
    feats = log_spectrogram(clip[None], cfg.n_fft, cfg.hop_length)[0, 0]  # (F, T)
    peak = feats[:, feats.shape[1] // 2].argmax().item()
    # recompute the drawn frequency with the same generator draws
    g = torch.Generator().manual_seed(0)
    f0 = cfg.f_min + (cfg.f_max - cfg.f_min) * torch.rand((), generator=g).item()
    assert abs(peak - f0 * cfg.n_fft / cfg.sample_rate) <= 1.0


def test_training_is_deterministic() -> None:
    cfg = AudioConfig(clips_per_class=20, train=TrainConfig(epochs=2, progress=False))
    _, history_a, acc_a = train_audio(cfg)
    _, history_b, acc_b = train_audio(cfg)
    assert losses(history_a) == losses(history_b) and acc_a == acc_b


def test_a_small_budget_is_accurate() -> None:
    cfg = AudioConfig(clips_per_class=100, train=TrainConfig(epochs=8, progress=False))
    _, history, acc = train_audio(cfg)
    assert losses(history)[-1] < 0.3 * losses(history)[0]
    assert acc > 0.85  # chance is 0.25


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="unknown clip kind 'drum'"):
        make_clip("drum", AudioConfig(), torch.Generator())
    with pytest.raises(ValueError, match=r"must be \(batch, samples\), got shape"):
        log_spectrogram(torch.zeros(64), 16, 8)
