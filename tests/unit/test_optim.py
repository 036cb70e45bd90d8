"""snippets.optim: the optimizers written from their update rules equal torch.optim."""

import pytest
import torch
from torch import nn

from snippets.optim import SGD, Adam, AdamConfig, SGDConfig, max_diff_after, state_bytes


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread avoids contention that makes each step 20x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# The tolerance the optimizers page states: a few fp32 ulps of weights of size ~1 after
# 100 steps (rounding differs because torch groups the arithmetic differently). The page
# runs 100 steps; 30 keep the test fast and already accumulate the rounding.
STEPS = 30
TOL = {torch.float32: 1e-6, torch.float64: 1e-12}

CASES = {
    "sgd": (
        lambda p: SGD(p, SGDConfig(lr=0.05, momentum=0.9, weight_decay=0.01)),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    ),
    "adam": (
        lambda p: Adam(p, AdamConfig(lr=1e-2, weight_decay=0.1)),
        lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.1),
    ),
    "adamw": (
        lambda p: Adam(p, AdamConfig(lr=1e-2, weight_decay=0.1, decoupled=True)),
        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    ),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_equals_torch_optim_after_k_steps(name: str, dtype: torch.dtype) -> None:
    ours, theirs = CASES[name]
    assert max_diff_after(ours, theirs, steps=STEPS, dtype=dtype) <= TOL[dtype]


@pytest.mark.parametrize(
    "wrong",
    [
        # Adam's L2 term where AdamW decays the weights: the comparison must notice.
        lambda p: Adam(p, AdamConfig(lr=1e-2, weight_decay=0.1)),
        # A different beta2 changes every step after the first.
        lambda p: Adam(
            p, AdamConfig(lr=1e-2, beta2=0.99, weight_decay=0.1, decoupled=True)
        ),
    ],
)
def test_a_different_rule_does_not_match(wrong) -> None:
    theirs = CASES["adamw"][1]
    assert max_diff_after(wrong, theirs, steps=STEPS, dtype=torch.float64) > 1e-4


def test_without_weight_decay_adam_and_adamw_agree_exactly() -> None:
    make = {
        d: (lambda p, d=d: Adam(p, AdamConfig(lr=1e-2, decoupled=d))) for d in (0, 1)
    }
    assert max_diff_after(make[0], make[1], steps=20, dtype=torch.float64) == 0.0


def test_first_adam_step_moves_each_coordinate_by_about_lr() -> None:
    for scale in (1e-3, 1.0, 1e3):
        w = nn.Parameter(torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
        opt = Adam([w], AdamConfig(lr=0.01))
        w.grad = scale * torch.tensor([0.5, -4.0, 2.0], dtype=torch.float64)
        before = w.detach().clone()
        opt.step()
        step = (w.detach() - before).abs()
        assert torch.allclose(step, torch.full_like(step, 0.01), rtol=1e-4), step


def test_lr_attribute_is_used_by_the_next_step() -> None:
    w = nn.Parameter(torch.ones(3))
    opt = SGD([w], SGDConfig(lr=0.1, momentum=0.0))
    w.grad = torch.ones(3)
    opt.lr = 0.5
    opt.step()
    assert torch.equal(w.detach(), torch.full((3,), 0.5))


def test_adamw_state_is_two_copies_of_the_parameters() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 20), nn.Linear(20, 3))
    params = list(model.parameters())
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    ours = Adam(params, AdamConfig(decoupled=True))
    theirs = torch.optim.AdamW(params)
    model(torch.randn(4, 10)).sum().backward()
    ours.step()
    theirs.step()
    assert state_bytes(ours) == 2 * param_bytes
    # torch also keeps one fp32 `step` counter per parameter tensor.
    assert state_bytes(theirs) == 2 * param_bytes + 4 * len(params)
    assert state_bytes(SGD(params, SGDConfig())) == param_bytes


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SGDConfig(lr=0.0), r"SGD needs lr > 0"),
        (lambda: SGDConfig(momentum=1.0), r"0 <= momentum < 1.*momentum=1\.0"),
        (lambda: AdamConfig(beta2=1.0), r"beta2 < 1.*beta2=1\.0"),
        (lambda: AdamConfig(eps=0.0), r"eps > 0"),
        (lambda: AdamConfig(weight_decay=-0.1), r"weight_decay >= 0"),
        (lambda: Adam([], AdamConfig()), r"Adam got an empty parameter list"),
        (lambda: SGD([torch.ones(2)], SGDConfig()), r"parameter #0 is not a tensor"),
        (lambda: max_diff_after(*CASES["sgd"], steps=0), r"steps must be >= 1, got 0"),
    ],
)
def test_bad_input_is_refused_early(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
