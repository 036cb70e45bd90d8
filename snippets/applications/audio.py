"""Audio classification: generated clips, STFT log-spectrograms and a small CNN.

Four kinds of short clips (512 samples at 4 kHz) are generated with random parameters:
a sine, a square wave (odd harmonics), a linear chirp (a frequency sweep) and white
noise, each with a random amplitude, phase and amount of added noise.  ``torch.stft``
turns a clip into a (frequency x time) magnitude image; its logarithm compresses the
dynamic range the way speech front ends (log-Mel features) do.
``snippets.models.spectrogram_cnn``'s two-block CNN then classifies the image: a sine
is one horizontal line, a square wave a ladder of lines, a chirp a slanted line, noise
a flat texture.  Training reuses the handbook's loop, ``snippets.train.train`` and
``evaluate``.

Run ``python -m snippets.applications.audio`` (``--epochs`` to change the budget).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field

import torch
from torch.utils.data import TensorDataset

from snippets.data import make_loader
from snippets.models.spectrogram_cnn import SpectrogramCNN
from snippets.train import TrainConfig, evaluate, train

CLASSES = ("sine", "square", "chirp", "noise")


# --8<-- [start:config]
@dataclass
class AudioConfig:
    sample_rate: int = 4000  # samples per second
    num_samples: int = 512  # samples per clip (0.128 s at 4 kHz)
    f_min: float = 100.0  # lowest tone or sweep frequency, in Hz
    f_max: float = 1000.0  # highest one; square-wave harmonics may exceed it
    noise_max: float = 0.3  # std of the added noise, drawn in [0, noise_max] per clip
    n_fft: int = 64  # STFT window length: n_fft // 2 + 1 frequency bins
    hop_length: int = 32  # samples between frames
    clips_per_class: int = 200  # clips generated per class
    test_fraction: float = 0.25  # share of the clips held out for testing
    channels: int = 8  # channels of the first convolution
    batch_size: int = 32  # clips per optimizer step
    seed: int = 0  # seeds the clips; train.seed seeds the weights and the batch order
    train: TrainConfig = field(  # the training chapter's loop settings
        default_factory=lambda: TrainConfig(progress=False)
    )
    # --8<-- [end:config]


# --8<-- [start:clip]
def make_clip(kind: str, cfg: AudioConfig, generator: torch.Generator) -> torch.Tensor:
    """One clip ``(num_samples,)`` of the given kind with random parameters.

    A linear chirp from f0 to f1 over duration T has phase
    2 pi (f0 t + (f1 - f0) t^2 / (2 T)), so its frequency f0 + (f1 - f0) t / T sweeps.

    Args:
        kind: one of ``CLASSES``.
        cfg: sample rate, length, frequency range and noise level.
        generator: the source of randomness (seeded by the caller).
    """

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * torch.rand((), generator=generator).item()

    t = torch.arange(cfg.num_samples) / cfg.sample_rate  # (S,) seconds
    f0, phase = uniform(cfg.f_min, cfg.f_max), uniform(0.0, 2 * math.pi)
    if kind == "sine":
        x = torch.sin(2 * math.pi * f0 * t + phase)
    elif kind == "square":
        x = torch.sign(torch.sin(2 * math.pi * f0 * t + phase))
    elif kind == "chirp":
        # sweep across at least half of the range, up or down, so it is not a tone
        span = uniform(0.5, 1.0) * (cfg.f_max - cfg.f_min)
        f0 = uniform(cfg.f_min, cfg.f_max - span)
        f1 = f0 + span
        if uniform(0.0, 1.0) < 0.5:
            f0, f1 = f1, f0
        duration = cfg.num_samples / cfg.sample_rate
        sweep = f0 * t + (f1 - f0) * t**2 / (2 * duration)  # (S,) cycles so far
        x = torch.sin(2 * math.pi * sweep + phase)
    elif kind == "noise":
        x = torch.randn(cfg.num_samples, generator=generator)
    else:
        raise ValueError(
            f"unknown clip kind {kind!r}; choose one of {', '.join(CLASSES)}"
        )
    noise_std = uniform(0.0, cfg.noise_max)
    noise = noise_std * torch.randn(cfg.num_samples, generator=generator)
    return uniform(0.5, 1.0) * x + noise
    # --8<-- [end:clip]


# --8<-- [start:dataset]
def make_dataset(cfg: AudioConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``clips_per_class`` clips of every kind, shuffled.

    Returns:
        Clips ``(N, S)`` and their class indices ``(N,)``.
    """
    if cfg.clips_per_class < 1:
        raise ValueError(f"clips_per_class must be >= 1, got {cfg.clips_per_class}")
    generator = torch.Generator().manual_seed(cfg.seed)
    clips, labels = [], []
    for label, kind in enumerate(CLASSES):
        for _ in range(cfg.clips_per_class):
            clips.append(make_clip(kind, cfg, generator))
            labels.append(label)
    order = torch.randperm(len(labels), generator=generator)
    return torch.stack(clips)[order], torch.tensor(labels)[order]  # (N, S), (N,)
    # --8<-- [end:dataset]


# --8<-- [start:features]
def log_spectrogram(clips: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """Log-magnitude STFT of a batch of clips, as one-channel images.

    X[m, k] = sum_n x[n + m H] w[n] exp(-2 pi i k n / N),  N = n_fft, H = hop_length,
    with a periodic Hann window w; the features are log(|X| + 1e-3).

    Args:
        clips: ``(B, S)`` waveforms.
        n_fft: window length N; the image has N // 2 + 1 frequency rows.
        hop_length: H, samples between the starts of consecutive frames.

    Returns:
        ``(B, 1, n_fft // 2 + 1, frames)``; with ``center=True`` frames = 1 + S // H.
    """
    if clips.dim() != 2:
        raise ValueError(
            f"clips must be (batch, samples), got shape {tuple(clips.shape)}"
        )
    window = torch.hann_window(n_fft, device=clips.device)
    spec = torch.stft(
        clips, n_fft=n_fft, hop_length=hop_length, window=window, return_complex=True
    )  # (B, F, T) complex
    # 1e-3 floors silent bins so the log stays finite and the range stays moderate
    return torch.log(spec.abs() + 1e-3).unsqueeze(1)  # (B, 1, F, T)
    # --8<-- [end:features]


# --8<-- [start:train]
def train_audio(
    cfg: AudioConfig, device: torch.device | None = None
) -> tuple[SpectrogramCNN, list[dict[str, float]], float]:
    """Generate clips and train ``SpectrogramCNN`` with ``snippets.train.train``.

    Args:
        cfg: signal, feature and model settings and the loop's ``TrainConfig``.
        device: where to train; default: the CPU.

    Returns:
        The model, ``train``'s history (one dict per epoch) and the test accuracy.
    """
    device = device if device is not None else torch.device("cpu")
    clips, labels = make_dataset(cfg)
    features = log_spectrogram(clips, cfg.n_fft, cfg.hop_length)  # (N, 1, F, T)
    n_test = int(len(labels) * cfg.test_fraction)
    if not 0 < n_test < len(labels):
        raise ValueError(f"test_fraction {cfg.test_fraction} leaves an empty split")
    train_set = TensorDataset(features[n_test:], labels[n_test:])
    test_set = TensorDataset(features[:n_test], labels[:n_test])
    torch.manual_seed(cfg.train.seed)  # the initial weights
    bins, frames = features.shape[2], features.shape[3]
    model = SpectrogramCNN(bins, frames, len(CLASSES), cfg.channels)
    model.to(device)
    loader = make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.train.seed)
    history = train(model, loader, None, cfg.train, device)
    test = evaluate(model, make_loader(test_set, 256, shuffle=False), device)
    return model, history, test["accuracy"]
    # --8<-- [end:train]


def main(cfg: AudioConfig) -> None:
    model, history, acc = train_audio(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    print(
        f"{n_params} parameters; loss {first:.3f} -> {last:.3f}; "
        f"test accuracy {acc:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Classify generated audio clips.")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument(
        "--clips-per-class", type=int, default=AudioConfig.clips_per_class
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(
        AudioConfig(
            clips_per_class=args.clips_per_class,
            seed=args.seed,
            train=TrainConfig(epochs=args.epochs, seed=args.seed, progress=False),
        )
    )
