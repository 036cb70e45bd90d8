"""Choosing the next token from a language model's logits.

* greedy: the most likely token (``temperature=0``);
* temperature: ``p = softmax(z / tau)``; ``tau < 1`` sharpens, ``tau > 1`` flattens;
* top-k: sample only among the k largest logits (Fan et al. 2018);
* top-p ("nucleus"): sample only among the smallest set of tokens whose probability
  adds up to at least p (Holtzman et al. 2020, arXiv:1904.09751).

They compose in that order, as in Hugging Face's ``generate``: temperature, then
top-k, then top-p.  ``check_sampling`` refuses impossible settings before any work.
"""

from __future__ import annotations

import math

import torch


# --8<-- [start:check]
def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise ``ValueError`` naming the bad value unless the settings can be used.

    Args:
        temperature: a finite number >= 0 (0 means greedy).
        top_k: None, or an integer >= 1.
        top_p: None, or a number in (0, 1].
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(f"temperature must be a number, got {temperature!r}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be finite and >= 0, got {temperature}")
    if top_k is not None and (
        isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
    ):
        raise ValueError(f"top_k must be None or an integer >= 1, got {top_k!r}")
    if top_p is not None and (
        isinstance(top_p, bool)
        or not isinstance(top_p, (int, float))
        or not 0.0 < top_p <= 1.0
    ):
        raise ValueError(f"top_p must be None or in (0, 1], got {top_p!r}")
        # --8<-- [end:check]


# --8<-- [start:filters]
def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row, set the rest to -inf.

    Ties with the k-th value are kept; k larger than the vocabulary keeps everything.

    Args:
        logits: ``(B, V)`` next-token logits.
        k: how many to keep, >= 1.
    """
    kth = torch.topk(logits, min(k, logits.size(-1))).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability sums to >= p.

    A token is dropped when the tokens ranked above it already hold p of the mass;
    the most likely token is always kept.

    Args:
        logits: ``(B, V)`` next-token logits.
        p: the probability mass to keep, in (0, 1].
    """
    probs, order = logits.softmax(dim=-1).sort(dim=-1, descending=True)  # (B, V)
    mass_before = probs.cumsum(dim=-1) - probs  # (B, V): mass of the tokens above
    drop_sorted = mass_before >= p  # (B, V), in sorted order
    drop_sorted[:, 0] = False  # even when p underflows to 0 in the logits' dtype
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # (B, V), in vocabulary order
    return logits.masked_fill(drop, float("-inf"))
    # --8<-- [end:filters]


# --8<-- [start:sample]
def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One next token per row: greedy, or sampled from the filtered softmax(z / tau).

    Args:
        logits: ``(B, V)`` next-token logits.
        temperature: 0 for greedy decoding, else tau in softmax(z / tau).
        top_k: keep only the k largest logits, or None.
        top_p: keep only the nucleus of mass p, or None.
        generator: a seeded generator for reproducible sampling.

    Returns:
        ``(B, 1)`` token ids.
    """
    if temperature < torch.finfo(logits.dtype).tiny:  # 0, or 0 in the logits' dtype
        return logits.argmax(dim=-1, keepdim=True)  # (B, 1): the limit tau -> 0
    # Subtract the max first: the best logit becomes 0, so a tiny tau cannot overflow.
    logits = (logits - logits.max(dim=-1, keepdim=True).values) / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    probs = logits.softmax(dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator)  # (B, 1)
    # --8<-- [end:sample]
