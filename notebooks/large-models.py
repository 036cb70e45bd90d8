# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown] lang="zh"
# # 大模型技术 notebook：注意力图与训练显存
#
# 这是「大模型技术」一章的配套 notebook，画两张图：
#
# 1. 一个很小的 GPT 在一段短文本上训练几秒之后，某个注意力头对一句输入的注意力权重，
#    用和模型完全相同的公式算出，因果掩码（只能看见自己和之前的位置）一目了然；
# 2. 几种规模的 GPT 训练时的内存去向：参数、梯度、AdamW 状态和激活值各占多少字节。
#
# 模型来自本手册的 `snippets.models.gpt`，内存估算与测量的代码从 `snippets/memory.py`
# 逐字节展开。运行需要 `torch`、`matplotlib` 和 `snippets` 包（在仓库根目录执行 `pip install -e .`），
# 不下载任何东西。页面上的输出和图都是构建网站时真实运行得到的。

# %% [markdown] lang="en"
# # Large-model techniques notebook: attention maps and training memory
#
# The companion notebook of the *Large-model techniques* chapter draws two figures:
#
# 1. the attention weights of one head of a tiny GPT, trained for a few seconds on a short
#    text, for one input sentence, computed with exactly the model's formula, so the causal
#    mask (each position sees itself and the positions before it) is plain to see;
# 2. where the training memory of GPTs of a few sizes goes: bytes of parameters,
#    gradients, AdamW state and activations.
#
# The model is the handbook's `snippets.models.gpt`; the memory estimator and measurement
# are expanded byte for byte from `snippets/memory.py`. It needs `torch`, `matplotlib`
# and the `snippets` package (`pip install -e .` in the repository root); nothing is
# downloaded. The outputs and figures on this page come from running it when the site was
# built.

# %%
import copy
import io
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import matplotlib
import PIL.Image
import torch
import torch.nn.functional as F
from IPython.display import Image, display
from torch import nn

from snippets.models.attention import naive_causal_attention
from snippets.models.gpt import GPT, GPTConfig

matplotlib.use("Agg")  # render off-screen; figures are shown as PNGs below
import matplotlib.pyplot as plt  # noqa: E402

# The models here are small: one CPU thread is faster than several threads waiting on
# each other, and the numbers do not depend on it.
torch.set_num_threads(1)
print("torch", torch.__version__)


def show(fig, alt: dict[str, str]) -> None:
    """Display ``fig`` as a PNG; each notebook keeps the alt text of its language."""
    rendered = io.BytesIO()
    fig.savefig(rendered, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    # A 256-colour palette looks the same for a plot and makes the PNG ~3x smaller.
    png = io.BytesIO()
    PIL.Image.open(rendered).convert("RGB").quantize(colors=256).save(png, format="png")
    display(Image(png.getvalue(), metadata={"alt": alt}))


# %% [markdown] lang="zh"
# ## 训练一个很小的 GPT
#
# 词表是 UTF-8 字节（256 个），语料是下面这段重复的英文短句。两层、每层 4 个头、宽度 64，
# 约 12 万个参数，在 CPU 上训练 200 步只要几秒。未训练的模型对 256 个字节一视同仁，
# 损失从 ln 256 ≈ 5.545 附近开始。

# %% [markdown] lang="en"
# ## Train a tiny GPT
#
# The vocabulary is the 256 UTF-8 byte values and the corpus is the repetitive English
# below. Two layers of 4 heads, width 64, about 120 thousand parameters: 200 steps take a
# few seconds on a CPU. An untrained model spreads its probability evenly over the 256
# bytes, so the loss starts near ln 256 ≈ 5.545.

# %%
text = ("the cat sat on the mat. the dog sat on the log. the cat saw the dog. "
        "the dog saw the cat on the mat. a cat and a dog sat on a log. ") * 4
ids = torch.tensor(list(text.encode("utf-8")))  # (N,) byte ids
cfg = GPTConfig(vocab_size=256, block_size=32, n_layer=2, n_head=4, d_model=64)
torch.manual_seed(0)
model = GPT(cfg)
untrained = copy.deepcopy(model)  # the same weights before any step, for comparison
print(f"{len(ids)} bytes of text, {model.num_params(non_embedding=False):,} parameters")

generator = torch.Generator().manual_seed(0)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
losses = []
for step in range(200):
    starts = torch.randint(0, len(ids) - cfg.block_size, (16,), generator=generator)
    x = torch.stack([ids[s:s + cfg.block_size] for s in starts])  # (16, T)
    y = torch.stack([ids[s + 1:s + 1 + cfg.block_size] for s in starts])  # (16, T)
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss: step 1 {losses[0]:.3f} -> step 200 {losses[-1]:.3f}")

# %% [markdown] lang="zh"
# ## 注意力权重：与模型同一个公式
#
# 第 *l* 层先做 LayerNorm，再由 `c_attn` 一次算出查询、键、值，按头切成 Q = d / H = 16 维。
# 每个头的注意力权重是
#
# ```text
# A = softmax(q kᵀ / √Q + M),   M[i, j] = 0 if j ≤ i, −∞ if j > i
# ```
#
# 第 *i* 行是位置 *i* 分给各位置的权重，和为 1；*j* > *i* 的格子被掩码置为 0，
# 这就是「因果」：预测下一个字节时看不到后面的字节。模型本身调用的是不返回 *A* 的
# 融合算子 `F.scaled_dot_product_attention`，所以下面先手工算出 *A*，再检查
# *A v* 与 `naive_causal_attention`、融合算子以及模型这一层注意力的输出完全一致。

# %% [markdown] lang="en"
# ## Attention weights, with the model's formula
#
# Layer *l* applies its LayerNorm, then `c_attn` computes queries, keys and values at
# once, split into heads of Q = d / H = 16 dimensions. Each head's attention weights are
#
# ```text
# A = softmax(q kᵀ / √Q + M),   M[i, j] = 0 if j ≤ i, −∞ if j > i
# ```
#
# Row *i* holds the weights position *i* gives to every position and sums to 1; the
# cells with *j* > *i* are masked to 0. That is what *causal* means: predicting the next
# byte never sees the bytes after it. The model calls the fused
# `F.scaled_dot_product_attention`, which does not return *A*, so the code computes *A*
# by hand and checks that *A v* equals `naive_causal_attention`, the fused kernel and the
# output of the model's own attention layer.

# %%
@torch.no_grad()
def attention_weights(gpt: GPT, idx: torch.Tensor) -> list[torch.Tensor]:
    """The attention weights ``(H, T, T)`` of every block of ``gpt`` for ``idx`` (1, T)."""
    T = idx.size(1)
    x = gpt.wte(idx) + gpt.wpe(torch.arange(T))  # (1, T, C)
    maps = []
    for block in gpt.blocks:
        attn = block.attn
        h = block.ln_1(x)  # (1, T, C)
        B, _, C = h.shape
        q, k, v = attn.c_attn(h).split(C, dim=2)  # 3 x (1, T, C)
        q, k, v = (t.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2)
                   for t in (q, k, v))  # 3 x (1, H, T, Q)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (1, H, T, T)
        causal = torch.ones(T, T, dtype=torch.bool).tril()  # True where j <= i
        weights = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        out = weights @ v  # (1, H, T, Q)
        # the same numbers as the reference, the fused kernel and the model's layer
        assert torch.allclose(out, naive_causal_attention(q, k, v), atol=1e-6)
        fused = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        assert torch.allclose(out, fused, atol=1e-5)
        merged = out.transpose(1, 2).reshape(B, T, C)  # (1, T, C)
        assert torch.allclose(attn.c_proj(merged), attn(h)[0], atol=1e-5)
        maps.append(weights[0])  # (H, T, T)
        x, _ = block(x)  # the next block's input
    return maps


sentence = "the cat sat on the mat."
prompt = torch.tensor([list(sentence.encode("utf-8"))])  # (1, T)
after = attention_weights(model.eval(), prompt)
before = attention_weights(untrained.eval(), prompt)
T = prompt.size(1)
print("rows sum to 1:", torch.allclose(after[0].sum(dim=-1), torch.ones(4, T)))
print("weight above the diagonal:", after[0].triu(diagonal=1).abs().max().item())

# %% [markdown] lang="zh"
# 训练之后，不同的头学会了不同的「看」法。下面选出第 1 层中最关注「当前单词第一个字节」的头
# （空格算作前一个单词的结尾），画出它训练前后的注意力图。右上方的灰色三角是被因果掩码屏蔽的位置。
# 训练前，查询和键几乎都是 0（初始化的标准差是 0.02），所以每一行都把权重平均分给看得见的位置：
# 第 *i* 行每格约 1 / (i + 1)。训练之后，图上出现一段段竖直的亮条：同一个单词里的每个字节都回头看
# 这个单词的第一个字节——知道正在拼写哪个单词，是预测下一个字节的有用线索。

# %% [markdown] lang="en"
# After training, different heads have learned to look in different ways. The head drawn
# below is the one in layer 1 that attends most to the first byte of the current word (a
# space counts as the end of the word before it), before and after training. The grey
# triangle at the top right is what the causal mask hides. Before training, queries and
# keys are nearly zero (the weights start with a standard deviation of 0.02), so every
# row spreads its weight evenly over the visible positions: about 1 / (i + 1) per cell in
# row *i*. After training, vertical bright segments appear: every byte of a word looks
# back at the word's first byte. Knowing which word is being spelled is a useful cue for
# the next byte.

# %%
layer = 0
# the first byte of the word each position belongs to (a space ends the word before it)
word_start = [sentence.rfind(" ", 0, i) + 1 for i in range(len(sentence))]
inside = [i for i in range(len(sentence)) if word_start[i] < i]  # not the first byte


def on_word_start(weights: torch.Tensor) -> torch.Tensor:
    """Mean weight ``(H,)`` that positions inside a word give to the word's first byte."""
    return torch.stack([weights[:, i, word_start[i]] for i in inside]).mean(dim=0)


head = int(on_word_start(after[layer]).argmax())
share_after = on_word_start(after[layer])[head].item()
share_before = on_word_start(before[layer])[head].item()
print(f"head {head + 1}: weight on the word's first byte {share_before:.2f} before "
      f"training, {share_after:.2f} after")
assert share_after > 2 * share_before  # what the text above says
labels = [c if c != " " else "␣" for c in sentence]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
for ax, maps, title in ((axes[0], before, "before training"),
                        (axes[1], after, "after 200 steps")):
    shown = maps[layer][head].clone()
    shown[~torch.ones(T, T, dtype=torch.bool).tril()] = float("nan")  # the masked cells
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("lightgrey")
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    ax.set_xticks(range(T), labels, fontsize=7)
    ax.set_yticks(range(T), labels, fontsize=7)
    ax.set(xlabel="key position (attended to)", ylabel="query position",
           title=f"layer {layer + 1}, head {head + 1}: {title}")
fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")

row = 10  # the 11th byte sees 11 positions
uniform = before[layer][head][row, :row + 1]
show(fig, {
    "zh": f"两幅 {T}×{T} 的注意力热力图，输入是句子“{sentence}”的 {T} 个字节，"
          f"第 {layer + 1} 层第 {head + 1} 个头。两幅图对角线右上方的三角都是灰色，"
          "表示被因果掩码屏蔽、权重为 0。左图为训练前：每一行把权重平均分给看得见的位置，"
          f"例如第 {row + 1} 行的 {row + 1} 格权重都在 {uniform.min():.3f} 到 "
          f"{uniform.max():.3f} 之间（1/{row + 1} ≈ {1 / (row + 1):.3f}）。"
          "右图为训练 200 步之后：出现一段段竖直的亮条，每个单词里的字节都回头看该单词的第一个字节；"
          f"单词内部的字节平均把 {share_after:.2f} 的权重放在单词首字节上，训练前是 "
          f"{share_before:.2f}。",
    "en": f"Two {T} by {T} attention heatmaps of layer {layer + 1}, head {head + 1}, for "
          f"the {T} bytes of the sentence \"{sentence}\". In both, the triangle above and "
          "to the right of the diagonal is grey: the causal mask hides it and its weight "
          "is 0. Left, before training: every row spreads its weight evenly over the "
          f"visible positions, e.g. the {row + 1} cells of row {row + 1} all lie between "
          f"{uniform.min():.3f} and {uniform.max():.3f} (1/{row + 1} = "
          f"{1 / (row + 1):.3f}). Right, after 200 training steps: vertical bright "
          "segments, every byte of a word looking back at the word's first byte; bytes "
          f"inside a word put on average {share_after:.2f} of their weight on it, against "
          f"{share_before:.2f} before training.",
})


# %% [markdown] lang="zh"
# ## 训练时内存花在哪里
#
# 用 AdamW、全部 fp32（每个值 *b* = 4 字节）训练 *N* 个参数（其中 *N*ₜ 个可训练）时，
#
# ```text
# M = b·N（参数）+ b·Nₜ（梯度）+ 2·b·Nₜ（Adam 的两个矩）+ M_act（激活值）
# ```
#
# 即每个可训练参数在激活值之外要 16 字节。前三项只取决于参数个数，由
# `estimate_training_bytes` 算出，并与一步训练后真实张量的字节数核对；
# 激活值 `M_act` 是 autograd 为反向传播保存的张量，取决于批大小 *B*、序列长度 *T*
# 和模型代码，由 `saved_activation_bytes` 在一次前向中实测（这里 *B* = 8，*T* = 64）。

# %% [markdown] lang="en"
# ## Where the training memory goes
#
# Training *N* parameters, *N*ₜ of them trainable, with AdamW in fp32 (*b* = 4 bytes per
# value) keeps
#
# ```text
# M = b·N (weights) + b·Nₜ (gradients) + 2·b·Nₜ (Adam moments) + M_act (activations)
# ```
#
# that is 16 bytes per trainable parameter before any activation. The first three terms
# depend only on the parameter count: `estimate_training_bytes` computes them, checked
# below against the bytes of the real tensors after one step. The activations
# `M_act` are the tensors autograd keeps for the backward pass; they depend on the
# batch size *B*, the sequence length *T* and the model's code, and
# `saved_activation_bytes` measures them during one forward pass (here *B* = 8, *T* = 64).

# %%
--8<-- "snippets/memory.py:estimate"

--8<-- "snippets/memory.py:measure"

--8<-- "snippets/memory.py:activations"

batch = torch.randint(0, 256, (8, 65), generator=torch.Generator().manual_seed(0))
xb, yb = batch[:, :-1], batch[:, 1:]  # (8, 64) inputs and next-byte targets
sizes = [(2, 64, 4), (4, 128, 4), (6, 256, 8), (8, 512, 8)]  # (layers, width, heads)
rows = []
for n_layer, d_model, n_head in sizes:
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=256, block_size=64, n_layer=n_layer,
                        n_head=n_head, d_model=d_model))
    n = gpt.num_params(non_embedding=False)
    estimate = estimate_training_bytes(n, n)
    activations = saved_activation_bytes(gpt, lambda: gpt(xb, yb)[1])
    rows.append((f"L={n_layer}, d={d_model}", n, estimate, activations))
    print(f"L={n_layer} d={d_model:3d}  N={n:>10,}  weights+grads+Adam "
          f"{estimate.total / 2**20:7.1f} MiB  activations {activations / 2**20:6.1f} MiB")

# the estimate is exact: the real tensors after one AdamW step of the smallest model
torch.manual_seed(0)
small = GPT(GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=4, d_model=64))
opt = torch.optim.AdamW(small.parameters(), lr=1e-3)
small(xb, yb)[1].backward()
opt.step()
print("estimate == measured:", measured_training_bytes(small, opt) == rows[0][2])
# what the text below says: activations dominate the smallest, state the largest
assert rows[0][3] > rows[0][2].total and rows[-1][3] < rows[-1][2].total

# %% [markdown] lang="zh"
# 参数、梯度和 Adam 状态随参数个数增长（约为 12 *L d*²），而在固定的 *B* 和 *T* 下，
# 激活值只随 *L d* 线性增长。所以小模型的内存主要是激活值，大模型的主要是训练状态；
# 长上下文和大批量又会让激活值重新占上风——这正是激活检查点（activation checkpointing）、
# bf16 和分片（ZeRO / FSDP）各自要解决的问题。

# %% [markdown] lang="en"
# Weights, gradients and Adam state grow with the parameter count (about 12 *L d*²);
# at a fixed *B* and *T* the activations grow only linearly in *L d*. Small models spend
# their memory on activations, large ones on training state, and long contexts or large
# batches tip the balance back to activations: the problems activation checkpointing,
# bf16 and sharding (ZeRO / FSDP) each address.

# %%
parts = [("weights", lambda r: r[2].params), ("gradients", lambda r: r[2].grads),
         ("Adam moments", lambda r: r[2].optimizer), ("activations", lambda r: r[3])]
fig, ax = plt.subplots(figsize=(8, 3.6))
width = 0.2
for i, (name, get) in enumerate(parts):
    positions = [j + (i - 1.5) * width for j in range(len(rows))]
    ax.bar(positions, [get(r) / 2**20 for r in rows], width, label=name)
ax.set_xticks(range(len(rows)),
              [f"{label}\nN = {n / 1e6:.2f} M" for label, n, _, _ in rows])
ax.set(ylabel="MiB (log scale)", yscale="log",
       title="fp32 AdamW training memory, batch 8 x 64 tokens")
ax.grid(axis="y", alpha=0.3)
ax.legend(ncols=4, fontsize=8, loc="upper left")
fig.tight_layout()


def mib(value: int) -> str:
    return f"{value / 2**20:.1f}"


show(fig, {
    "zh": "分组柱状图（对数坐标，单位 MiB），四种规模的 GPT 各有四根柱：参数、梯度、Adam 两个矩、激活值"
          "（批大小 8、序列长度 64）。"
          + "；".join(f"{label}（{n / 1e6:.2f} M 参数）：参数 {mib(e.params)}、梯度 "
                     f"{mib(e.grads)}、Adam {mib(e.optimizer)}、激活值 {mib(a)}"
                     for label, n, e, a in rows)
          + "。最小的模型激活值最多，最大的模型训练状态远超激活值。",
    "en": "Grouped bar chart (log scale, MiB) with four bars for each of four GPT sizes: "
          "weights, gradients, the two Adam moments and activations (batch 8, sequence "
          "length 64). "
          + "; ".join(f"{label} ({n / 1e6:.2f} M parameters): weights {mib(e.params)}, "
                      f"gradients {mib(e.grads)}, Adam {mib(e.optimizer)}, activations "
                      f"{mib(a)}" for label, n, e, a in rows)
          + ". Activations dominate the smallest model; training state dominates the "
            "largest.",
})
