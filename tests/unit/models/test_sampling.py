"""snippets/models/sampling.py: greedy, temperature, top-k, top-p on known logits."""

import math

import pytest
import torch

from snippets.models.sampling import (
    check_sampling,
    sample_next,
    top_k_filter,
    top_p_filter,
)

PROBS = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
LOGITS = PROBS.log()


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    kept = lambda p: torch.isfinite(top_p_filter(LOGITS, p))[0].tolist()
    assert kept(0.5) == [True, False, False, False]  # 0.5 alone reaches 0.5
    assert kept(0.6) == [True, True, False, False]
    assert kept(0.95) == [True, True, True, False]
    assert kept(1.0) == [True] * 4
    shuffled = LOGITS[:, [2, 0, 3, 1]]  # order in the vocabulary does not matter
    assert torch.isfinite(top_p_filter(shuffled, 0.6))[0].tolist() == [
        False,
        True,
        False,
        True,
    ]


def test_top_k_keeps_k_and_clamps_to_the_vocabulary() -> None:
    assert torch.isfinite(top_k_filter(LOGITS, 2))[0].tolist() == [
        True,
        True,
        False,
        False,
    ]
    assert torch.isfinite(top_k_filter(LOGITS, 99)).all()


def test_temperature_zero_is_greedy_and_tiny_temperatures_do_not_overflow() -> None:
    assert sample_next(LOGITS, 0.0).item() == 0
    g = torch.Generator().manual_seed(0)
    for tau in (1e-300, 5e-324):
        assert sample_next(LOGITS * 100, tau, generator=g).item() == 0


def test_sampling_frequencies_follow_softmax_of_z_over_tau() -> None:
    g = torch.Generator().manual_seed(0)
    draws = sample_next(LOGITS.expand(20000, 4), 2.0, generator=g).flatten()
    freq = torch.bincount(draws, minlength=4) / 20000
    expected = (LOGITS / 2.0).softmax(-1)[0]
    torch.testing.assert_close(freq, expected, atol=0.015, rtol=0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((math.nan, None, None), "temperature must be finite and >= 0, got nan"),
        ((math.inf, None, None), "got inf"),
        ((1.0, 0, None), "top_k must be None or an integer >= 1, got 0"),
        ((1.0, 2.5, None), "got 2.5"),
        ((1.0, True, None), "got True"),
        ((1.0, None, 0), r"top_p must be None or in \(0, 1\], got 0"),
        ((1.0, None, math.nan), "got nan"),
    ],
)
def test_bad_settings_are_named(args, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_sampling(*args)


def test_top_p_below_float32_resolution_keeps_the_most_likely_token() -> None:
    # 1e-127 is 0 in float32: without the guard every token was dropped (NaN sampling).
    logits = torch.tensor([[0.5, 2.0, -1.0]])
    kept = top_p_filter(logits, 1e-127)
    assert torch.isfinite(kept).tolist() == [[False, True, False]]
