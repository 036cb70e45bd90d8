"""snippets/models/gpt.py: shapes, causality, KV cache, weight tying, errors."""

import pytest
import torch

from snippets.models.gpt import GPT, GPTConfig, flops_per_token, naive_causal_attention


def _model(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(block_size=16, n_layer=2, n_head=4, d_model=32, **kw)).eval()


def test_shapes_and_initial_loss_near_uniform() -> None:
    model = _model()
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 256, (2, 3, 16), generator=g)
    logits, loss = model(x, y)
    assert logits.shape == (3, 16, 256)
    # small init: predictions close to uniform, loss close to log(256) = 5.545
    assert abs(loss.item() - torch.log(torch.tensor(256.0)).item()) < 0.1


def test_parameter_count_formula_and_tying() -> None:
    model = _model()
    V, T, C, L = 256, 16, 32, 2
    # embeddings + per block (attn 4C^2, mlp 8C^2, two LayerNorm weights) + ln_f
    expected = V * C + T * C + L * (12 * C * C + 2 * C) + C
    assert model.num_params(non_embedding=False) == expected
    assert model.lm_head.weight is model.wte.weight
    assert model.num_params() == model.num_params(non_embedding=False) - T * C


def test_causal_future_tokens_do_not_change_the_past() -> None:
    model = _model()
    x = torch.randint(0, 256, (1, 16), generator=torch.Generator().manual_seed(1))
    y = x.clone()
    y[0, 10:] = (y[0, 10:] + 1) % 256
    a, _ = model(x)
    b, _ = model(y)
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_sdpa_matches_naive_attention() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 33, 8, generator=g) for _ in range(3))
    ref = naive_causal_attention(q, k, v)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_kv_cache_gives_the_same_logits_and_tokens() -> None:
    model = _model()
    x = torch.randint(0, 256, (2, 12), generator=torch.Generator().manual_seed(2))
    full, _ = model(x)
    cache: list = []
    first, _ = model(x[:, :5], kv_cache=cache)
    rest, _ = model(x[:, 5:], kv_cache=cache)  # several new tokens at once
    torch.testing.assert_close(torch.cat([first, rest], 1), full, rtol=1e-5, atol=1e-5)
    # sampling past the context window: the cache is rebuilt, tokens are unchanged
    runs = [
        model.generate(x[:, :6], 20, temperature=0.8, top_k=10, use_cache=c,
                       generator=torch.Generator().manual_seed(3))
        for c in (True, False)
    ]
    assert runs[0].shape == (2, 26)
    assert torch.equal(runs[0], runs[1])


def test_greedy_and_top_k() -> None:
    model = _model()
    x = torch.zeros(1, 1, dtype=torch.long)
    a = model.generate(x, 5, temperature=0)
    b = model.generate(x, 5, temperature=0, use_cache=False)
    assert torch.equal(a, b)
    out = model.generate(x, 1, top_k=1, generator=torch.Generator().manual_seed(0))
    assert out[0, 1] == model(x)[0][0, -1].argmax()


def test_errors_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match="d_model=30 is not divisible by n_head=4"):
        GPTConfig(d_model=30, n_head=4)
    with pytest.raises(ValueError, match="n_layer must be >= 1, got 0"):
        GPTConfig(n_layer=0)
    model = _model()
    message = "prompt of 17 tokens is longer than the context block_size=16"
    with pytest.raises(ValueError, match=message):
        model.generate(torch.zeros(1, 17, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="sequence of 17 tokens"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_flops_per_token_formula() -> None:
    cfg = GPTConfig(block_size=16, n_layer=2, n_head=4, d_model=32)
    assert flops_per_token(cfg, 1000) == 6 * 1000 + 12 * 2 * 4 * 8 * 16


def test_training_lowers_the_loss() -> None:
    model = _model().train()
    x = torch.randint(0, 256, (4, 16), generator=torch.Generator().manual_seed(4))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        _, loss = model(x[:, :-1], x[:, 1:])
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first - 1.0
