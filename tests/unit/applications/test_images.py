"""snippets/applications/images.py"""

import pytest
import torch
from torch import nn

import snippets.applications.images as images
from snippets.applications.images import DigitsConfig, mistakes, predict, train_digits
from snippets.data import digits_datasets
from snippets.models.cnn import DigitsCNN
from snippets.train import TrainConfig


def small(epochs: int) -> DigitsConfig:
    return DigitsConfig(
        channels=(8, 16), train=TrainConfig(epochs=epochs, progress=False)
    )


def test_reuses_the_one_model_and_the_one_split() -> None:
    # no second DigitsCNN and no second split: the module holds the shared objects
    assert images.DigitsCNN is DigitsCNN
    assert images.digits_datasets is digits_datasets
    model, history, _ = train_digits(small(1))
    assert type(model) is DigitsCNN
    assert sum(p.numel() for p in model.parameters()) == (
        8 * (9 + 1) + 16 * (8 * 9 + 1) + 10 * (16 * 4 + 1)
    )
    # train() evaluated on the split's 180 validation images
    assert set(history[0]) >= {"train_loss", "val_loss", "val_accuracy"}


def test_training_is_deterministic() -> None:
    model_a, history_a, acc_a = train_digits(small(1))
    model_b, history_b, acc_b = train_digits(small(1))
    assert history_a[0]["train_loss"] == history_b[0]["train_loss"]
    assert acc_a == acc_b
    torch.testing.assert_close(model_a.head.weight, model_b.head.weight, rtol=0, atol=0)


def test_a_small_budget_is_accurate() -> None:
    _, history, acc = train_digits(small(4))
    assert history[-1]["train_loss"] < 0.2 * history[0]["train_loss"]
    assert acc > 0.85  # chance is 0.1; 4 epochs of this small model reach about 0.92


def test_predict_gives_probabilities_and_mistakes_are_the_wrong_ones() -> None:
    # a "model" that always answers 3, more or less sure depending on the first pixel
    class Always3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(5.0))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.zeros(len(x), 10)
            logits[:, 3] = self.scale * (1 + x[:, 0, 0, 0])
            return logits

    x = torch.zeros(4, 1, 8, 8)
    x[2, 0, 0, 0] = 1.0  # the most confident example
    labels = torch.tensor([3, 1, 2, 3])
    probs = predict(Always3(), x)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(4))
    wrong, predicted, confidence = mistakes(Always3(), x, labels)
    assert wrong.tolist() == [2, 1]  # most confident first
    assert predicted.tolist() == [3, 3]
    assert confidence[0] > confidence[1]


def test_images_without_a_channel_are_refused_by_name() -> None:
    message = r"must be \(N, 1, 8, 8\), got shape \(2, 8, 8\)"
    with pytest.raises(ValueError, match=message):
        predict(DigitsCNN(), torch.zeros(2, 8, 8))
