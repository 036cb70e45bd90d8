"""Image classification: scikit-learn's bundled 8x8 digits and a small CNN.

``sklearn.datasets.load_digits`` ships 1,797 grey-scale 8x8 images of the digits 0-9
inside the scikit-learn package, so nothing is downloaded.  Pixels take the values
0..16; dividing by 16 puts them in [0, 1].  The network is two blocks of a 3x3
convolution (padding 1 keeps the size) and a 2x2 max-pool (8x8 -> 4x4 -> 2x2), then a
linear head: about 6k parameters, trained in about a second on a CPU to about 97-98%
test accuracy.  Pooling early keeps the second convolution cheap (4x4 instead of 8x8).

Run ``python -m snippets.applications.images`` (``--epochs`` to change the budget).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from snippets.applications.loop import accuracy, fit


# --8<-- [start:config]
@dataclass
class DigitsConfig:
    channels: int = 16  # channels of the first convolution (the second has twice that)
    epochs: int = 10  # passes over the training set
    batch_size: int = 64  # images per optimizer step
    lr: float = 3e-3  # AdamW learning rate
    test_fraction: float = 0.25  # share of the 1,797 images held out for testing
    seed: int = 0  # seeds the split, the initial weights and the batch order
# --8<-- [end:config]


# --8<-- [start:data]
def load_digit_tensors(
    test_fraction: float = 0.25, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The digits as ``(N, 1, 8, 8)`` float images in [0, 1] and ``(N,)`` labels.

    Args:
        test_fraction: share of the images in the test split (stratified by digit).
        seed: seeds the split.

    Returns:
        ``x_train, x_test, y_train, y_test``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    digits = load_digits()  # bundled with scikit-learn: no download
    images = torch.tensor(digits.images, dtype=torch.float32) / 16.0  # (N, 8, 8)
    images = images.unsqueeze(1)  # (N, 1, 8, 8): one grey channel
    labels = torch.tensor(digits.target)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, random_state=seed, stratify=labels)
    return x_train, x_test, y_train, y_test
# --8<-- [end:data]


# --8<-- [start:model]
class DigitsCNN(nn.Module):
    """(conv3x3 -> ReLU -> maxpool2) twice, then a linear head, for 8x8 images.

    A convolution or pool with kernel k, padding p and stride s maps a side of length H
    to floor((H + 2p - k) / s) + 1: k=3, p=1, s=1 keeps the side, k=s=2 halves it.

    Args:
        channels: channels of the first convolution; the second has ``2 * channels``.
        num_classes: number of output logits.
    """

    def __init__(self, channels: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        if channels < 1 or num_classes < 2:
            raise ValueError(
                f"DigitsCNN needs channels >= 1 and num_classes >= 2, "
                f"got {channels} and {num_classes}")
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # 4x4 -> 2x2
        )
        self.head = nn.Linear(2 * channels * 2 * 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 2C, 2, 2)
        return self.head(x.flatten(1))  # (B, 2C*4) -> (B, num_classes)
# --8<-- [end:model]


# --8<-- [start:train]
def train_digits(cfg: DigitsConfig) -> tuple[DigitsCNN, list[float], float]:
    """Train ``DigitsCNN`` on the digits.

    Returns:
        The model, the mean loss of each epoch and the test accuracy.
    """
    x_train, x_test, y_train, y_test = load_digit_tensors(cfg.test_fraction, cfg.seed)
    torch.manual_seed(cfg.seed)  # the initial weights
    model = DigitsCNN(cfg.channels)
    losses = fit(model, x_train, y_train, epochs=cfg.epochs, batch_size=cfg.batch_size,
                 lr=cfg.lr, seed=cfg.seed)
    return model, losses, accuracy(model, x_test, y_test)
# --8<-- [end:train]


def main(cfg: DigitsConfig) -> None:
    model, losses, acc = train_digits(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params} parameters; loss {losses[0]:.3f} -> {losses[-1]:.3f}; "
          f"test accuracy {acc:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train a small CNN on the digits.")
    parser.add_argument("--epochs", type=int, default=DigitsConfig.epochs)
    parser.add_argument("--channels", type=int, default=DigitsConfig.channels)
    parser.add_argument("--seed", type=int, default=DigitsConfig.seed)
    args = parser.parse_args()
    main(DigitsConfig(epochs=args.epochs, channels=args.channels, seed=args.seed))
