"""snippets/applications/loop.py"""

import pytest
import torch
from torch import nn

from snippets.applications.loop import accuracy, fit


def _problem() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(256, 3)
    return x, (x[:, 0] - x[:, 2] > 0).long()  # linearly separable


def test_fit_lowers_the_loss_and_learns_a_separable_rule() -> None:
    x, y = _problem()
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    before = accuracy(model, x, y)
    losses = fit(model, x, y, epochs=15, batch_size=32, lr=0.05, seed=0)
    assert len(losses) == 15
    assert losses[-1] < 0.5 * losses[0]
    assert accuracy(model, x, y) > max(before, 0.95)


def test_fit_is_repeatable_with_the_same_seed() -> None:
    x, y = _problem()
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = nn.Linear(3, 2)
        runs.append((fit(model, x, y, epochs=3, batch_size=16, lr=0.01, seed=7),
                     model.weight.detach().clone()))
    assert runs[0][0] == runs[1][0]
    torch.testing.assert_close(runs[0][1], runs[1][1], rtol=0, atol=0)


def test_accuracy_counts_argmax_hits_and_sets_eval_mode() -> None:
    model = nn.Identity()
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 4.0], [1.0, 2.0]])
    assert accuracy(model, logits, torch.tensor([0, 1, 1, 1])) == pytest.approx(0.75)
    assert not model.training


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="same length, got 4 and 3"):
        fit(nn.Linear(2, 2), torch.zeros(4, 2), torch.zeros(3, dtype=torch.long),
            epochs=1, batch_size=2, lr=0.1, seed=0)
    with pytest.raises(ValueError, match="must be >= 1, got 0, 2"):
        fit(nn.Linear(2, 2), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long),
            epochs=0, batch_size=2, lr=0.1, seed=0)
