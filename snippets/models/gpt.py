"""A small decoder-only transformer (GPT), readable top to bottom.

Choices, following nanoGPT and GPT-2:

* pre-norm blocks: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``, which trains stably
  without a warm-up at these sizes;
* causal multi-head attention (``snippets.models.attention``) on
  ``F.scaled_dot_product_attention``, which picks a fused kernel where there is one;
* learned position embeddings (or, with ``rope=True``, rotary embeddings from
  ``snippets.models.rope``) and weight tying (``lm_head.weight is wte.weight``);
* ``generate()`` decodes greedily or samples with temperature, top-k and top-p
  (``snippets.models.sampling``) and keeps a KV cache, so each new token costs one
  position of attention instead of re-running the whole prefix.

The Transformer chapter builds each piece from its formula; the fine-tuning chapter
trains this model.  Run ``python -m snippets.models.gpt`` to build a tiny model, count
its parameters and sample a few (untrained, so random) bytes.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from snippets.models.attention import CausalSelfAttention
from snippets.models.rope import rope_tables
from snippets.models.sampling import check_sampling, sample_next


# --8<-- [start:config]
@dataclass
class GPTConfig:
    vocab_size: int = 256  # tokens; 256 for the byte-level tokenizer
    block_size: int = 64  # context length T: the longest sequence the model accepts
    n_layer: int = 2  # transformer blocks L
    n_head: int = 4  # attention heads H per block
    d_model: int = 64  # embedding width; each head gets d_model // n_head = Q dims
    dropout: float = 0.0  # dropout after attention and MLP (0 for fine-tuning demos)
    bias: bool = False  # biases in Linear and LayerNorm (GPT-2 had them; not needed)
    grad_checkpoint: bool = False  # recompute each block in backward: less memory
    rope: bool = False  # rotary position embedding instead of the learned wpe table

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"GPTConfig {name} must be >= 1, got {value}")
        if self.d_model % self.n_head != 0:
            raise ValueError(
                f"GPTConfig d_model={self.d_model} is not divisible by "
                f"n_head={self.n_head}"
            )
        if self.rope and (self.d_model // self.n_head) % 2 != 0:
            raise ValueError(
                f"GPTConfig rope=True needs an even head size, got "
                f"d_model // n_head = {self.d_model // self.n_head}"
            )
            # --8<-- [end:config]


# --8<-- [start:block]
class FeedForward(nn.Module):
    """Position-wise feed-forward network: FFN(x) = W_2 GELU(W_1 x), width C -> 4C -> C.

    Args:
        cfg: the model configuration (``d_model``, ``dropout``, ``bias``).
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, 4 * cfg.d_model, bias=cfg.bias)  # W_1
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * cfg.d_model, cfg.d_model, bias=cfg.bias)  # W_2
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).

    Args:
        cfg: the model configuration.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg.d_model, cfg.n_head, cfg.dropout, cfg.bias)
        self.ln_2 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.mlp = FeedForward(cfg)

    def forward(self, x: torch.Tensor, cache=None, rope=None):
        """``(B, T, C)`` -> ``(B, T, C)`` and this block's keys and values."""
        a, new_cache = self.attn(self.ln_1(x), cache, rope)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, new_cache
        # --8<-- [end:block]


# --8<-- [start:gpt]
class GPT(nn.Module):
    """Decoder-only LM: logits = ln_f(blocks(wte[idx] + wpe[pos])) @ wte^T (tied).

    Args: cfg: a :class:`GPTConfig`."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = None if cfg.rope else nn.Embedding(cfg.block_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one matrix, used twice
        init_weights(self, cfg.n_layer)

    def forward(self, idx, targets=None, kv_cache=None):
        """Logits ``(B, T, V)``, and the mean cross-entropy if ``targets`` is given.

        Args: idx, targets: ``(B, T)`` token ids and next-token ids (or None);
        kv_cache: a list updated in place, one ``(k, v)`` per block, or None."""
        B, T = idx.shape
        past = kv_cache[0][0].size(2) if kv_cache else 0
        if past + T > self.cfg.block_size:
            raise ValueError(
                f"sequence of {past + T} tokens is longer than the "
                f"context block_size={self.cfg.block_size}"
            )
        x = self.wte(idx)  # (B, T, C)
        pos = torch.arange(past, past + T, device=idx.device)  # (T,)
        rope = None  # RoPE rotates q and k inside attention; else add learned vectors
        if self.cfg.rope:
            rope = rope_tables(pos, self.cfg.d_model // self.cfg.n_head)
        x = self.drop(x if self.cfg.rope else x + self.wpe(pos))
        for i, block in enumerate(self.blocks):
            if self.cfg.grad_checkpoint and self.training and kv_cache is None:
                # Keep only the block's input; rerun its forward during backward.
                x, _ = checkpoint(block, x, None, rope, use_reentrant=False)
                continue
            x, new_cache = block(x, kv_cache[i] if past else None, rope)
            if kv_cache is not None:
                kv_cache[i : i + 1] = [new_cache]  # replace, or append when empty
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T))

    def generate(self, idx: torch.Tensor, max_new_tokens: int, **sampling):
        """``generate(self, idx, max_new_tokens, **sampling)``: see :func:`generate`."""
        return generate(self, idx, max_new_tokens, **sampling)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameters, tied ones once; ``non_embedding``: without ``wpe`` (no FLOPs)."""
        n = sum(p.numel() for p in self.parameters())  # tied weights listed once
        wpe = self.wpe.weight.numel() if self.wpe is not None else 0
        return n - wpe if non_embedding else n
        # --8<-- [end:gpt]


# --8<-- [start:init]
def init_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation: N(0, 0.02) weights, zero biases, smaller c_proj.

    The projections that write into the residual stream (``c_proj``) get std
    0.02 / sqrt(2 L): 2 L of them add up, so the stream's variance does not grow with
    depth.

    Args:
        model: the GPT to initialise in place.
        n_layer: L, the number of blocks.
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    for name, p in model.named_parameters():
        if name.endswith("c_proj.weight"):
            nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
            # --8<-- [end:init]


# --8<-- [start:check_prompt]
def check_prompt(idx: torch.Tensor, cfg: GPTConfig) -> None:
    """Raise ``ValueError`` unless ``idx`` is a ``(B, T)`` integer prompt that fits.

    Args:
        idx: the prompt token ids.
        cfg: the model configuration (``vocab_size``, ``block_size``).
    """
    if not isinstance(idx, torch.Tensor):
        raise ValueError(f"prompt must be a torch.Tensor, got {type(idx).__name__}")
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise ValueError(f"prompt must hold integer token ids, got dtype {idx.dtype}")
    if idx.dim() != 2 or idx.numel() == 0:
        raise ValueError(
            f"prompt must be (B, T) with B, T >= 1, got shape "
            f"{tuple(idx.shape)}; use ids.unsqueeze(0) for one sequence"
        )
    if idx.size(1) > cfg.block_size:
        raise ValueError(
            f"prompt of {idx.size(1)} tokens is longer than the context "
            f"block_size={cfg.block_size}"
        )
    low, high = idx.min().item(), idx.max().item()
    if low < 0 or high >= cfg.vocab_size:
        raise ValueError(
            f"prompt ids must be in [0, {cfg.vocab_size}), got min {low} and max {high}"
        )
        # --8<-- [end:check_prompt]


# --8<-- [start:generate]
@torch.no_grad()
def generate(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Append ``max_new_tokens`` tokens to the prompt ``idx``, one at a time.

    Each step runs the model, takes the last position's logits and picks the next token
    with :func:`~snippets.models.sampling.sample_next`. ``max_new_tokens=0`` returns the
    prompt unchanged; bad arguments raise ``ValueError`` before any work.

    Args:
        model: the GPT.
        idx: ``(B, T)`` prompt token ids, ``1 <= T <= block_size``.
        max_new_tokens: how many tokens to append, >= 0.
        temperature: 0 is greedy; else tau in softmax(z / tau).
        top_k: keep only the k most likely tokens, or None for all.
        top_p: keep only the nucleus of probability mass p, or None for all.
        use_cache: keep keys and values of past positions (the KV cache).
        generator: a seeded generator for reproducible sampling.
    """
    check_prompt(idx, model.cfg)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
        raise ValueError(f"max_new_tokens must be an int, got {max_new_tokens!r}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    check_sampling(temperature, top_k, top_p)
    T_max = model.cfg.block_size
    cache: list | None = [] if use_cache else None
    step_input = idx
    for _ in range(max_new_tokens):
        if cache is None or (cache and cache[0][0].size(2) >= T_max):
            # No cache, or the window is full: run the last block_size tokens again.
            cache = [] if use_cache else None
            step_input = idx[:, -T_max:]  # (B, <= block_size)
        logits, _ = model(step_input, kv_cache=cache)
        next_id = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)
        idx = torch.cat([idx, next_id], dim=1)  # (B, T + 1)
        step_input = next_id  # (B, 1): with a cache only the new token goes in
    return idx
    # --8<-- [end:generate]


# --8<-- [start:flops]
def flops_per_token(cfg: GPTConfig, n_params: int) -> int:
    """Training FLOPs per token (forward + backward), as in nanoGPT / PaLM appendix B.

    6 N + 12 L H Q T: 6 per parameter (2 forward, 4 backward) plus the attention scores
    and weighted sum, which have no parameters.

    Args:
        cfg: the model configuration (L, H, Q = d_model / H, T = block_size).
        n_params: N, the non-embedding parameter count.
    """
    L, H, T = cfg.n_layer, cfg.n_head, cfg.block_size
    Q = cfg.d_model // cfg.n_head
    return 6 * n_params + 12 * L * H * Q * T
    # --8<-- [end:flops]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    cfg = GPTConfig(d_model=args.d_model, n_layer=args.n_layer, n_head=args.n_head)
    model = GPT(cfg)
    print(cfg)
    print(f"parameters: {model.num_params(non_embedding=False):,}")
    out = model.generate(torch.zeros(1, 1, dtype=torch.long), 16, top_k=10)
    print("sampled ids:", out[0].tolist())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
