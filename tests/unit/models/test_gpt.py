"""snippets/models/gpt.py: shapes, causality, KV cache, weight tying, RoPE, generate."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from snippets.models.attention import naive_causal_attention
from snippets.models.gpt import GPT, GPTConfig, flops_per_token


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
        model.generate(
            x[:, :6],
            20,
            temperature=0.8,
            top_k=10,
            use_cache=c,
            generator=torch.Generator().manual_seed(3),
        )
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


def test_rope_model_has_no_position_table_and_a_working_cache() -> None:
    model = _model(rope=True)
    assert model.wpe is None
    assert model.num_params() == model.num_params(non_embedding=False)
    assert not any("wpe" in name for name in model.state_dict())
    x = torch.randint(0, 256, (2, 12), generator=torch.Generator().manual_seed(5))
    full, _ = model(x)
    cache: list = []
    first, _ = model(x[:, :7], kv_cache=cache)
    rest, _ = model(x[:, 7:], kv_cache=cache)  # positions 7.. rotate by their own angle
    torch.testing.assert_close(torch.cat([first, rest], 1), full, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="rope=True needs an even head size, got"):
        GPTConfig(d_model=12, n_head=4, rope=True)


def test_grad_checkpoint_gives_the_same_gradients() -> None:
    x = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(6))
    grads = []
    for ckpt in (False, True):
        model = _model(grad_checkpoint=ckpt, rope=True).train()
        model(x[:, :-1], x[:, 1:])[1].backward()
        grads.append(model.wte.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_six_n_flops_per_token_against_the_flop_counter() -> None:
    # FlopCounterMode counts the matmuls of forward + backward: exactly 6 per weight
    # of every Linear (the tied output layer included) per token.
    cfg = GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, d_model=32)
    torch.manual_seed(0)
    model = GPT(cfg)
    x = torch.randint(0, 64, (1, 32), generator=torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter:
        model(x, x)[1].backward()
    norms = sum(p.numel() for n, p in model.named_parameters() if "ln" in n)
    assert counter.get_total_flops() / 32 == 6 * (model.num_params() - norms)
    # The attention term 12 H Q T per layer: the written-out attention's matmuls.
    q, k, v = (torch.randn(1, 2, 32, 16, requires_grad=True) for _ in range(3))
    with FlopCounterMode(display=False) as counter:
        naive_causal_attention(q, k, v).sum().backward()
    attention = flops_per_token(cfg, 0) // cfg.n_layer  # 12 H Q T
    assert counter.get_total_flops() / 32 == attention


def _cases():
    """A small prompt or a wrong one, and generation settings, some of them invalid."""
    prompts = st.one_of(
        st.tuples(st.integers(1, 2), st.integers(1, 16)).map(
            lambda s: torch.randint(0, 256, s)
        ),
        st.sampled_from(
            [
                torch.zeros(1, 0, dtype=torch.long),  # empty
                torch.zeros(3, dtype=torch.long),  # 1-D
                torch.zeros(1, 17, dtype=torch.long),  # longer than the context
                torch.full((1, 2), 256),  # outside the vocabulary
                torch.full((1, 2), -1),
                torch.zeros(1, 2),  # float ids
                torch.zeros(1, 2, dtype=torch.bool),
            ]
        ),
    )
    numbers = st.floats(allow_nan=True, allow_infinity=True)
    return st.fixed_dictionaries(
        {
            "idx": prompts,
            "max_new_tokens": st.one_of(
                st.integers(-3, 4), st.sampled_from([2.0, True])
            ),
            "temperature": st.one_of(numbers, st.just(0.0), st.floats(0.01, 3.0)),
            "top_k": st.one_of(st.none(), st.integers(-2, 300)),
            "top_p": st.one_of(st.none(), numbers, st.floats(0.01, 1.0)),
            "use_cache": st.booleans(),
        }
    )


_SMALL = _model()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cases())
def test_generate_gives_tokens_or_a_value_error(case) -> None:
    """Any input gives well-formed tokens that extend the prompt, or a ValueError."""
    idx, n = case["idx"], case["max_new_tokens"]
    try:
        out = _SMALL.generate(
            idx,
            n,
            temperature=case["temperature"],
            top_k=case["top_k"],
            top_p=case["top_p"],
            use_cache=case["use_cache"],
            generator=torch.Generator().manual_seed(0),
        )
    except ValueError:
        return
    assert out.dtype == idx.dtype and out.shape == (idx.size(0), idx.size(1) + n)
    assert torch.equal(out[:, : idx.size(1)], idx)
    assert 0 <= out.min() and out.max() < 256
    assert math.isfinite(case["temperature"]) and case["temperature"] >= 0


@pytest.mark.parametrize(
    ("idx", "kwargs", "message"),
    [
        (
            torch.zeros(1, 0, dtype=torch.long),
            {},
            r"\(B, T\) with B, T >= 1, got shape \(1, 0\)",
        ),
        (
            torch.zeros(5, dtype=torch.long),
            {},
            r"got shape \(5,\); use ids.unsqueeze\(0\)",
        ),
        (
            torch.tensor([[1, 300]]),
            {},
            r"ids must be in \[0, 256\), got min 1 and max 300",
        ),
        (torch.tensor([[-1, 3]]), {}, r"got min -1 and max 3"),
        (torch.zeros(1, 2), {}, "integer token ids, got dtype torch.float32"),
        ([[1, 2]], {}, "prompt must be a torch.Tensor, got list"),
        (None, {"top_k": 0}, "top_k must be None or an integer >= 1, got 0"),
        (None, {"top_k": -3}, "got -3"),
        (None, {"top_p": 0.0}, r"top_p must be None or in \(0, 1\], got 0.0"),
        (None, {"top_p": 1.5}, "got 1.5"),
        (
            None,
            {"temperature": float("nan")},
            "temperature must be finite and >= 0, got nan",
        ),
        (None, {"temperature": -1.0}, "got -1.0"),
        (None, {"temperature": "hot"}, "temperature must be a number, got 'hot'"),
        (None, {"max_new_tokens": -1}, "max_new_tokens must be >= 0, got -1"),
        (None, {"max_new_tokens": 2.0}, "max_new_tokens must be an int, got 2.0"),
    ],
)
def test_generate_refuses_bad_input_in_its_own_words(idx, kwargs, message) -> None:
    idx = torch.zeros(1, 2, dtype=torch.long) if idx is None else idx
    kwargs = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        _SMALL.generate(idx, **kwargs)


def test_zero_new_tokens_returns_the_prompt() -> None:
    idx = torch.tensor([[3, 1, 4]])
    assert torch.equal(_SMALL.generate(idx, 0), idx)


def test_top_p_and_top_k_restrict_what_is_sampled() -> None:
    x = torch.zeros(1, 1, dtype=torch.long)
    logits = _SMALL(x)[0][0, -1]
    best = logits.argmax().item()
    gen = torch.Generator().manual_seed(0)
    # a nucleus smaller than the top token's probability holds that token only
    tiny = [
        _SMALL.generate(x, 1, top_p=1e-6, generator=gen)[0, 1].item() for _ in range(5)
    ]
    assert tiny == [best] * 5
    top3 = set(logits.topk(3).indices.tolist())
    drawn = {
        _SMALL.generate(x, 1, temperature=5.0, top_k=3, generator=gen)[0, 1].item()
        for _ in range(40)
    }
    assert drawn <= top3 and len(drawn) > 1
