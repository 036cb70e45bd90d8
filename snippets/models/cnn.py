"""DigitsCNN: a small convolutional network for 8 x 8 digit images.

Two 3 x 3 convolution blocks (conv, ReLU, 2 x 2 max-pool) turn a ``(B, 1, 8, 8)`` image
into 64 feature maps of 2 x 2, a flatten makes that a 256-wide vector and one linear
``head`` maps it to class logits.  The split into ``features`` (an ``nn.Sequential``
ending in ``nn.Flatten``) and ``head`` (an ``nn.Linear``) is deliberate: fine-tuning
code freezes ``features`` and swaps ``head`` for one with a different number of classes.

Run ``python -m snippets.models.cnn`` to print the model and its parameter count.
"""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:model]
class DigitsCNN(nn.Module):
    """Conv-ReLU-pool twice, flatten, one linear head.

    A convolution with ``c_in`` input and ``c_out`` output channels and a k x k kernel
    holds c_out * (c_in * k * k + 1) parameters (weights plus one bias per channel).

    Args:
        num_classes: size of the output (logits per class).
        channels: output channels of the two convolutions.
    """

    def __init__(
        self, num_classes: int = 10, channels: tuple[int, int] = (32, 64)
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"DigitsCNN num_classes must be >= 1, got {num_classes}")
        if min(channels) < 1:
            raise ValueError(f"DigitsCNN channels must be >= 1, got {channels}")
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=3, padding=1),  # (B, c1, 8, 8)
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, c1, 4, 4)
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),  # (B, c2, 4, 4)
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, c2, 2, 2)
            nn.Flatten(),  # (B, c2 * 4)
        )
        self.head = nn.Linear(c2 * 2 * 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 1, 8, 8) -> (B, num_classes)
        # --8<-- [end:model]


if __name__ == "__main__":
    net = DigitsCNN()
    print(net)
    print("parameters:", sum(p.numel() for p in net.parameters()))
