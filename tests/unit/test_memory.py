"""snippets/memory.py: the estimate equals the measured bytes; activations scale."""

import pytest
import torch

from snippets.memory import (estimate_training_bytes, measured_training_bytes,
                             saved_activation_bytes)
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
        model = GPT(GPTConfig(vocab_size=50304, block_size=2048, n_layer=24,
                              n_head=16, d_model=2048))
    n = sum(p.numel() for p in model.parameters())
    assert n == 1_315_276_800
    assert all(p.is_meta for p in model.parameters())


def test_activation_measure_refuses_the_meta_device() -> None:
    with torch.device("meta"):
        model = GPT(GPTConfig(block_size=16, n_layer=1, n_head=2, d_model=16))
    with pytest.raises(ValueError, match="measures real tensors; the model is on the meta"):
        saved_activation_bytes(model, lambda: model(_x(1).to("meta"))[0].sum())
