"""snippets/practice.py: the hands-on project's loop and fit."""

import pytest
import torch
from torch.utils.data import TensorDataset

from snippets.data import make_loader
from snippets.models.simplenet import SimpleNet
from snippets.practice import PracticeConfig, fit, train_epoch

CPU = torch.device("cpu")


def tiny_digits(n: int = 96, seed: int = 0) -> TensorDataset:
    """Random 8 x 8 images labelled by which of the first 10 pixels is brightest."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = x.flatten(1)[:, :10].argmax(-1)  # (n,): the brightest of the first 10 pixels
    return TensorDataset(x, y)


def test_train_epoch_returns_the_mean_loss_and_updates_every_batch() -> None:
    torch.manual_seed(0)
    model = SimpleNet(64, 10, hidden_size=16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the loss is fixed
    data = tiny_digits()
    loader = make_loader(data, batch_size=32, shuffle=False)
    x, y = data.tensors
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(model(x), y).item()
    mean_loss = train_epoch(model, loader, optimizer, CPU)
    assert mean_loss == pytest.approx(expected, rel=1e-5)
    assert model.training


def test_fit_lowers_the_loss_and_repeats_exactly() -> None:
    cfg = PracticeConfig(hidden_size=32, epochs=8, batch_size=16, lr=3e-2)
    data, val = tiny_digits(), tiny_digits(32, seed=1)
    _, first = fit(cfg, data, val, device=CPU)
    _, second = fit(cfg, data, val, device=CPU)
    assert len(first.train_loss) == len(first.val_loss) == len(first.val_accuracy) == 8
    assert first.train_loss[-1] < 0.7 * first.train_loss[0]
    assert first == second  # seeded weights and batch order: the same run twice


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("epochs", 0, "epochs must be >= 1, got 0"),
        ("batch_size", -1, "batch_size must be >= 1, got -1"),
        ("lr", 0.0, "lr must be > 0, got 0.0"),
        ("weight_decay", -0.1, "weight_decay must be >= 0, got -0.1"),
    ],
)
def test_bad_settings_are_refused(field: str, value, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PracticeConfig(**{field: value})
