"""snippets/models/cnn.py"""

import pytest
import torch
from torch import nn

from snippets.data import digits_datasets, make_loader
from snippets.models.cnn import DigitsCNN
from snippets.train import TrainConfig, evaluate, train


def test_shapes_and_the_backbone_head_split() -> None:
    model = DigitsCNN()
    x = torch.rand(5, 1, 8, 8)
    assert model(x).shape == (5, 10)
    assert isinstance(model.features, nn.Sequential)
    assert isinstance(model.features[-1], nn.Flatten)
    assert model.features(x).shape == (5, 256)  # 64 channels of 2 x 2
    assert isinstance(model.head, nn.Linear) and model.head.in_features == 256


def test_parameter_count_matches_the_formula() -> None:
    model = DigitsCNN(num_classes=10, channels=(32, 64))
    conv = 32 * (1 * 9 + 1) + 64 * (32 * 9 + 1)  # c_out * (c_in * k * k + 1)
    head = 10 * 256 + 10
    assert sum(p.numel() for p in model.parameters()) == conv + head == 21386


def test_head_can_be_replaced_and_features_frozen() -> None:
    model = DigitsCNN()
    model.features.requires_grad_(False)
    model.head = nn.Linear(model.head.in_features, 3)
    out = model(torch.rand(2, 1, 8, 8))
    assert out.shape == (2, 3)
    out.sum().backward()
    assert all(p.grad is None for p in model.features.parameters())
    assert model.head.weight.grad is not None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 0}, "num_classes must be >= 1, got 0"),
        ({"channels": (8, 0)}, r"channels must be >= 1, got \(8, 0\)"),
    ],
)
def test_bad_sizes_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DigitsCNN(**kwargs)


def test_reaches_97_percent_test_accuracy_on_cpu() -> None:
    # seed 0, the defaults of TrainConfig (10 epochs, peak lr 1e-2), batch 64
    train_set, val_set, test_set = digits_datasets(seed=0)
    torch.manual_seed(0)
    model = DigitsCNN()
    history = train(
        model,
        make_loader(train_set, 64, shuffle=True),
        make_loader(val_set, 256, shuffle=False),
        TrainConfig(progress=False),
        torch.device("cpu"),
    )
    assert len(history) == 10 and history[-1]["train_loss"] < history[0]["train_loss"]
    test = evaluate(
        model, make_loader(test_set, 256, shuffle=False), torch.device("cpu")
    )
    assert test["accuracy"] >= 0.97
