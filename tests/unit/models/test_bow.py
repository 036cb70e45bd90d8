"""snippets/models/bow.py"""

import pytest
import torch

from snippets.models.bow import BagOfWords


def test_bag_is_the_mean_of_non_padding_embeddings() -> None:
    torch.manual_seed(0)
    model = BagOfWords(vocab_size=10, num_classes=3, dim=4)
    ids = torch.tensor([[2, 5, 7, 0, 0]])
    expected = model.embed.weight[[2, 5, 7]].mean(dim=0)  # padding left out
    torch.testing.assert_close(model.embed(ids)[0], expected)
    assert model(ids).shape == (1, 3)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="num_classes >= 2, got 1, 16, 4"):
        BagOfWords(vocab_size=1, num_classes=4)
