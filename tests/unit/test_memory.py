"""snippets/memory.py: the estimate equals the measured bytes; activations scale."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.memory import (
    MemoryEstimate,
    estimate_training_bytes,
    measured_training_bytes,
    saved_activation_bytes,
    tensor_bytes,
)
from snippets.models.gpt import GPT, GPTConfig


def _gpt(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(block_size=16, n_layer=2, n_head=4, d_model=32, **kw))


def _x(batch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (batch, 16), generator=generator)


def test_estimate_matches_measured_tensors_after_a_step() -> None:
    model = _gpt()
    model.wte.requires_grad_(False)  # also check a partly frozen model
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    model(_x(2), _x(2))[1].backward()
    optimizer.step()
    n = sum(p.numel() for p in model.parameters())
    n_t = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert n_t < n
    assert measured_training_bytes(model, optimizer) == estimate_training_bytes(n, n_t)
    assert estimate_training_bytes(n, n_t, bytes_per_value=2).total == 2 * n + 6 * n_t


def test_activations_scale_with_batch_and_checkpointing_saves_them() -> None:
    model = _gpt()
    a2 = saved_activation_bytes(model, lambda: model(_x(2), _x(2))[1])
    a4 = saved_activation_bytes(model, lambda: model(_x(4), _x(4))[1])
    assert abs(a4 / a2 - 2.0) < 0.01
    ckpt = _gpt(grad_checkpoint=True)
    c2 = saved_activation_bytes(ckpt, lambda: ckpt(_x(2), _x(2))[1])
    assert c2 < a2 / 3
    # same gradients with and without checkpointing
    ckpt.load_state_dict(model.state_dict())
    for m in (model, ckpt):
        m(_x(2), _x(2))[1].backward()
    for a, b in zip(model.parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-6)


def test_gradient_accumulation_equals_the_big_batch() -> None:
    model = _gpt()
    x = _x(8)
    model(x[:, :-1], x[:, 1:])[1].backward()
    big = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    for micro in x.chunk(4):
        (model(micro[:, :-1], micro[:, 1:])[1] / 4).backward()
    for a, p in zip(big, model.parameters()):
        torch.testing.assert_close(p.grad, a, rtol=1e-5, atol=1e-6)


def test_meta_device_allocates_nothing() -> None:
    with torch.device("meta"):
        model = GPT(
            GPTConfig(
                vocab_size=50304, block_size=2048, n_layer=24, n_head=16, d_model=2048
            )
        )
    n = sum(p.numel() for p in model.parameters())
    assert n == 1_315_276_800
    assert all(p.is_meta for p in model.parameters())


def test_activation_measure_refuses_the_meta_device() -> None:
    with torch.device("meta"):
        model = GPT(GPTConfig(block_size=16, n_layer=1, n_head=2, d_model=16))
    with pytest.raises(
        ValueError, match="measures real tensors; the model is on the meta"
    ):
        saved_activation_bytes(model, lambda: model(_x(1).to("meta"))[0].sum())


def _stepped(optimizer_cls, **kw):
    model = _gpt()
    optimizer = optimizer_cls(model.parameters(), lr=1e-3, **kw)
    model(_x(2), _x(2))[1].backward()
    optimizer.step()
    return model, optimizer, sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("optimizer_cls", "kw", "states"),
    [
        (torch.optim.SGD, {"momentum": 0.9}, 1),  # momentum_buffer
        (torch.optim.SGD, {}, 0),  # plain SGD keeps nothing
        (torch.optim.AdamW, {"amsgrad": True}, 3),  # + max_exp_avg_sq
        (torch.optim.Adam, {}, 2),
    ],
)
def test_measured_counts_every_optimizer_state(optimizer_cls, kw, states) -> None:
    model, optimizer, n = _stepped(optimizer_cls, **kw)
    measured = measured_training_bytes(model, optimizer)
    assert measured == estimate_training_bytes(n, n, states=states)
    assert measured.optimizer == 4 * states * n


def test_adamw_step_counters_are_left_out_of_both() -> None:
    model, optimizer, n = _stepped(torch.optim.AdamW)
    steps = [s["step"] for s in optimizer.state.values()]
    assert len(steps) == len(list(model.parameters())) and steps[0].numel() == 1
    assert measured_training_bytes(model, optimizer).optimizer == 8 * n


def test_tensor_bytes_counts_a_storage_once() -> None:
    w = torch.zeros(8, 4)
    assert tensor_bytes([w, w.T, w[:2], w.view(-1)]) == 8 * 4 * 4
    assert tensor_bytes([w, torch.zeros(3, dtype=torch.float16)]) == 128 + 6
    with pytest.raises(ValueError, match="counts real storage; got a meta tensor"):
        tensor_bytes([torch.zeros(2, device="meta")])


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        (
            {"n_params": -1, "n_trainable": 0},
            ValueError,
            "n_params must be >= 0, got -1",
        ),
        (
            {"n_params": 10, "n_trainable": -5},
            ValueError,
            "n_trainable must be >= 0, got -5",
        ),
        (
            {"n_params": 10, "n_trainable": 11},
            ValueError,
            "n_trainable=11 is more than n_params",
        ),
        (
            {"n_params": 10, "n_trainable": 10, "bytes_per_value": "bf16"},
            TypeError,
            "bytes_per_value must be an integer, got 'bf16'",
        ),
        (
            {"n_params": 10, "n_trainable": 10, "bytes_per_value": 0},
            ValueError,
            "bytes_per_value must be >= 1, got 0",
        ),
        (
            {"n_params": 10.5, "n_trainable": 1},
            TypeError,
            "n_params must be an integer",
        ),
        (
            {"n_params": 10, "n_trainable": 1, "states": -2},
            ValueError,
            "states must be >= 0",
        ),
    ],
)
def test_estimate_refuses_bad_sizes(kw, error, message) -> None:
    with pytest.raises(error, match=message):
        estimate_training_bytes(**kw)


ANY = st.one_of(
    st.integers(-10, 10**12), st.floats(), st.booleans(), st.none(), st.text(max_size=4)
)


@settings(max_examples=200, deadline=None)
@given(n=ANY, n_t=ANY, b=ANY, k=ANY)
def test_estimate_property(n, n_t, b, k) -> None:
    """Any input: the formula's bytes, each part >= 0, or our ValueError."""
    try:
        est = estimate_training_bytes(n, n_t, bytes_per_value=b, states=k)
    except (TypeError, ValueError) as err:
        assert any(
            name in str(err)
            for name in ("n_params", "n_trainable", "bytes_per_value", "states")
        )
        return
    assert isinstance(est, MemoryEstimate)
    assert est.params == b * n and est.grads == b * n_t and est.optimizer == k * b * n_t
    assert min(est.params, est.grads, est.optimizer) >= 0
    assert est.total == (n + (1 + k) * n_t) * b
