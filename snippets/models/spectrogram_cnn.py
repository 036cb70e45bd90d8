"""SpectrogramCNN: a small convolutional network on one-channel spectrogram images.

Two blocks of a 3 x 3 convolution (padding 1 keeps the size), ReLU and a 2 x 2 max-pool
turn a ``(B, 1, F, T)`` log-spectrogram into ``2 * channels`` maps of
``(F // 4, T // 4)``; a linear ``head`` maps them to class logits.  The applications
chapter trains it on generated audio clips (``snippets.applications.audio``).

Run ``python -m snippets.models.spectrogram_cnn`` to print the model.
"""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:model]
class SpectrogramCNN(nn.Module):
    """(conv3x3 -> ReLU -> maxpool2) twice, then a linear head, for spectrogram images.

    Each 2x2 pool maps a side of length L to floor(L / 2), so the head sees
    ``2 * channels * (F // 4) * (T // 4)`` features.  Convolutions find local patterns
    (a line, a slanted line, a ladder of lines) wherever they are in frequency.

    Args:
        freq_bins: F, rows of the input image (``n_fft // 2 + 1``).
        frames: T, columns of the input image.
        num_classes: number of output logits.
        channels: channels of the first convolution; the second has ``2 * channels``.
    """

    def __init__(
        self, freq_bins: int, frames: int, num_classes: int, channels: int = 8
    ) -> None:
        super().__init__()
        if freq_bins < 4 or frames < 4:
            raise ValueError(
                "SpectrogramCNN needs an image of at least 4x4, "
                f"got {freq_bins}x{frames}"
            )
        if channels < 1 or num_classes < 2:
            raise ValueError(
                f"SpectrogramCNN needs channels >= 1 and num_classes >= 2, "
                f"got {channels} and {num_classes}"
            )
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (F, T) -> (F // 2, T // 2)
            nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> (F // 4, T // 4)
        )
        n_features = 2 * channels * (freq_bins // 4) * (frames // 4)
        self.head = nn.Linear(n_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 2C, F // 4, T // 4)
        return self.head(x.flatten(1))  # (B, 2C * (F // 4) * (T // 4)) -> (B, classes)
        # --8<-- [end:model]


if __name__ == "__main__":
    net = SpectrogramCNN(freq_bins=33, frames=17, num_classes=4)
    print(net)
    print("parameters:", sum(p.numel() for p in net.parameters()))
