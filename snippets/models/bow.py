"""BagOfWords: the mean of a sentence's word embeddings, then a linear layer.

The fastText recipe (Joulin et al., 2016, https://arxiv.org/abs/1607.01759):
``nn.EmbeddingBag(mode="mean")`` averages the embeddings of a sentence's token ids in
one operation, leaving the padding id 0 out, and a linear ``head`` maps the average to
class logits.  Word order is ignored.  The applications chapter trains it on intents
(``snippets.applications.text``).

Run ``python -m snippets.models.bow`` to print the model and its parameter count.
"""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:model]
class BagOfWords(nn.Module):
    """Mean of the word embeddings, then a linear layer (fastText-style).

    h = (1 / |S|) sum_{i in S} E[w_i],  logits = W h + b,
    where S are the non-padding positions of the sentence.

    Args:
        vocab_size: rows of the embedding table E; row 0 is padding.
        num_classes: number of output logits.
        dim: embedding size.
    """

    def __init__(self, vocab_size: int, num_classes: int, dim: int = 16) -> None:
        super().__init__()
        if vocab_size < 2 or dim < 1 or num_classes < 2:
            raise ValueError(
                f"BagOfWords needs vocab_size >= 2, dim >= 1, num_classes >= 2, "
                f"got {vocab_size}, {dim}, {num_classes}"
            )
        # padding_idx=0: <pad> is left out of the mean and never receives a gradient
        self.embed = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=0)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids)  # (B, L) token ids -> (B, dim): one bag per row
        return self.head(h)  # (B, num_classes)
        # --8<-- [end:model]


if __name__ == "__main__":
    net = BagOfWords(vocab_size=100, num_classes=4)
    print(net)
    print("parameters:", sum(p.numel() for p in net.parameters()))
