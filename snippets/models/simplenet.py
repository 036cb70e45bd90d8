"""SimpleNet: the handbook's first model, a perceptron with two fully connected layers.

``Flatten -> Linear(in, hidden) -> ReLU -> Linear(hidden, out)``.  It is often described
as "one fully connected layer"; it has two (``fc1`` and ``fc2``), and only the ReLU
between them makes it more than a single linear map.  Inputs of any shape ``(B, ...)``
are flattened to ``(B, input_size)``, so 8 x 8 digit images go in as they are.  There is
no ``backward`` method: autograd derives the backward pass from the operations
``forward`` records.

Run ``python -m snippets.models.simplenet`` to print the model and its parameter count.
"""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:model]
class SimpleNet(nn.Module):
    """Two fully connected layers with a ReLU between them.

    y = W2 relu(W1 x + b1) + b2, with x the flattened input

    Args:
        input_size: features per example.
        output_size: number of outputs (classes for classification).
        hidden_size: width of the hidden layer.
    """

    def __init__(
        self, input_size: int, output_size: int, hidden_size: int = 128
    ) -> None:
        super().__init__()
        for name, value in [
            ("input_size", input_size),
            ("output_size", output_size),
            ("hidden_size", hidden_size),
        ]:
            if value < 1:
                raise ValueError(f"SimpleNet {name} must be >= 1, got {value}")
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # (B, ...) -> (B, input_size): an image becomes a vector
        x = self.fc1(x)  # (B, hidden_size)
        x = self.relu(x)
        return self.fc2(x)  # (B, output_size)
        # --8<-- [end:model]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``model`` (only trainable ones if asked)."""
    return sum(
        p.numel() for p in model.parameters() if p.requires_grad or not trainable_only
    )


if __name__ == "__main__":
    net = SimpleNet(input_size=10, output_size=2)
    print(net)
    print("parameters:", count_parameters(net))
