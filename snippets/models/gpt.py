"""A small decoder-only transformer (GPT), readable top to bottom.

Choices, following nanoGPT and GPT-2:

* pre-norm blocks: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``, which trains stably
  without a warm-up at these sizes;
* causal attention through ``F.scaled_dot_product_attention(is_causal=True)``, which
  picks a fused kernel (flash / memory-efficient) when the device has one;
* learned positional embeddings and weight tying (``lm_head.weight is wte.weight``);
* ``generate()`` samples with temperature and top-k and keeps a KV cache, so each new
  token costs one position of attention instead of re-running the whole prefix.

Run ``python -m snippets.models.gpt`` to build a tiny model, count its parameters and
sample a few (untrained, so random) bytes.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


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
# --8<-- [end:config]


# --8<-- [start:naive_attention]
def naive_causal_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """Causal attention written out: softmax(q k^T / sqrt(Q) + mask) v.

    The reference for ``F.scaled_dot_product_attention(q, k, v, is_causal=True)``; it
    materialises the (T, T) score matrix, which the fused kernels avoid.

    Args:
        q, k, v: ``(B, H, T, Q)`` queries, keys and values.
    """
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T, T)
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v  # (B, H, T, Q)
# --8<-- [end:naive_attention]


# --8<-- [start:attention]
class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with an optional KV cache.

    Args:
        cfg: the model configuration (``d_model``, ``n_head``, ``dropout``, ``bias``).
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=cfg.bias)  # q, k, v
        self.c_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.dropout = cfg.dropout

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, Q)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, Q)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, Q)
        past = 0
        if cache is not None:
            past = cache[0].size(2)
            k = torch.cat([cache[0], k], dim=2)  # (B, H, past + T, Q)
            v = torch.cat([cache[1], v], dim=2)  # (B, H, past + T, Q)
        dropout = self.dropout if self.training else 0.0
        if past == 0:
            y = F.scaled_dot_product_attention(
                q, k, v, dropout_p=dropout, is_causal=True
            )  # (B, H, T, Q)
        else:
            # is_causal aligns the mask top-left; with a cache the T new queries sit at
            # the end, so query i may see keys 0 .. past + i (bottom-right alignment).
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device)
            mask = mask.tril(diagonal=past)  # (T, past + T)
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=dropout
            )  # (B, H, T, Q)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return F.dropout(self.c_proj(y), dropout, self.training), (k, v)
# --8<-- [end:attention]


# --8<-- [start:block]
class MLP(nn.Module):
    """Position-wise feed-forward network: Linear(C, 4C) -> GELU -> Linear(4C, C)."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, 4 * cfg.d_model, bias=cfg.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        a, new_cache = self.attn(self.ln_1(x), cache)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, new_cache
# --8<-- [end:block]


# --8<-- [start:gpt]
class GPT(nn.Module):
    """Decoder-only transformer language model.

    logits = ln_f(blocks(wte[idx] + wpe[pos])) @ wte^T   (weight tying)

    Args:
        cfg: a :class:`GPTConfig`.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.block_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one matrix, used twice
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                # GPT-2: scale the residual projections so the residual stream's
                # variance does not grow with depth.
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        kv_cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for every position, and the mean cross-entropy if ``targets`` given.

        Args:
            idx: ``(B, T)`` token ids.
            targets: ``(B, T)`` next-token ids, or None.
            kv_cache: a list to read and update in place, one ``(k, v)`` per block
                (empty at the start of generation), or None for no cache.
        """
        B, T = idx.shape
        past = kv_cache[0][0].size(2) if kv_cache else 0
        if past + T > self.cfg.block_size:
            raise ValueError(
                f"sequence of {past + T} tokens is longer than the context "
                f"block_size={self.cfg.block_size}"
            )
        pos = torch.arange(past, past + T, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            if self.cfg.grad_checkpoint and self.training and kv_cache is None:
                # Keep only the block's input; rerun its forward during backward.
                x, new_cache = checkpoint(block, x, use_reentrant=False)
            else:
                x, new_cache = block(x, kv_cache[i] if past > 0 else None)
            if kv_cache is not None:
                if past > 0:
                    kv_cache[i] = new_cache
                else:
                    kv_cache.append(new_cache)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        return logits, loss

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to ``idx`` ``(B, T)``.

        p = softmax(logits / temperature), restricted to the ``top_k`` largest logits.
        ``temperature=0`` picks the most likely token (greedy decoding).

        Args:
            idx: ``(B, T)`` prompt token ids, ``T <= block_size``.
            max_new_tokens: how many tokens to append.
            temperature: > 1 flattens, < 1 sharpens the distribution; 0 is greedy.
            top_k: keep only the k most likely tokens, or None for all.
            use_cache: keep keys and values of past positions (the KV cache).
            generator: a seeded generator for reproducible sampling.
        """
        if idx.size(1) > self.cfg.block_size:
            raise ValueError(
                f"prompt of {idx.size(1)} tokens is longer than the context "
                f"block_size={self.cfg.block_size}"
            )
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        cache: list | None = [] if use_cache else None
        step_input = idx
        for _ in range(max_new_tokens):
            if cache is None or (cache and cache[0][0].size(2) >= self.cfg.block_size):
                # No cache, or the window is full: run the last block_size tokens again.
                cache = [] if use_cache else None
                step_input = idx[:, -self.cfg.block_size:]  # (B, <= block_size)
            logits, _ = self(step_input, kv_cache=cache)
            logits = logits[:, -1, :]  # (B, vocab_size)
            if temperature == 0:
                next_id = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = logits.softmax(dim=-1)
                next_id = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, next_id], dim=1)  # (B, T + 1)
            step_input = next_id  # with a cache only the new token goes in
        return idx

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; tied weights count once, position embeddings optionally not.

        nanoGPT's MFU counts N without ``wpe`` (a lookup, no matmul FLOPs).
        """
        n = sum(p.numel() for p in self.parameters())  # tied weights listed once
        return n - self.wpe.weight.numel() if non_embedding else n
# --8<-- [end:gpt]


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
