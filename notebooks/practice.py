# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown] lang="zh"
# # 项目实践 notebook：训练 SimpleNet
#
# 这是「项目实践」一章的完整示例，整理成一个可以下载、从头运行到尾的 notebook：
# 把手写数字分成训练集、验证集和测试集，定义 `SimpleNet`（两个全连接层），训练 30 个 epoch、
# 每个 epoch 之后在验证集上评估，画出损失曲线，最后在测试集上评估一次。
# 网站上看到的输出和图，都是构建网站时真实运行这个 notebook 得到的。
#
# 运行它需要本书的 `snippets` 包（`torch`、`scikit-learn`、`matplotlib`），不下载任何东西。

# %% [markdown] lang="en"
# # Hands-on notebook: training SimpleNet
#
# The hands-on chapter's example as one notebook you can download and run top to bottom:
# split the handwritten digits into training, validation and test sets, define `SimpleNet`
# (two fully connected layers), train for 30 epochs with a validation pass after each,
# plot the loss curves and evaluate once on the test set. The outputs and the figure on
# this page come from running this notebook when the site was built.
#
# It needs the handbook's `snippets` package (`torch`, `scikit-learn`, `matplotlib`);
# nothing is downloaded.

# %%
import io

import matplotlib
import torch
from IPython.display import Image, display
from torch import nn

from snippets.data import digits_datasets, make_loader
from snippets.practice import PracticeConfig, fit
from snippets.train import evaluate

matplotlib.use("Agg")  # render off-screen; the figure is shown as a PNG below
import matplotlib.pyplot as plt  # noqa: E402

print("torch", torch.__version__)

# %% [markdown] lang="zh"
# ## 模型
#
# `SimpleNet` 的代码与 `snippets/models/simplenet.py` 中经过单元测试的代码逐字节相同：
# 展平、`fc1`（64 → 128）、ReLU、`fc2`（128 → 10）。它没有 `backward` 方法——反向传播由 autograd 推导。

# %% [markdown] lang="en"
# ## The model
#
# `SimpleNet` is byte for byte the unit-tested code in `snippets/models/simplenet.py`:
# flatten, `fc1` (64 → 128), a ReLU, `fc2` (128 → 10). It has no `backward` method:
# autograd derives the backward pass.

# %%
--8<-- "snippets/models/simplenet.py:model"

print(sum(p.numel() for p in SimpleNet(64, 10).parameters()), "parameters")

# %% [markdown] lang="zh"
# ## 数据与训练
#
# 全书共用同一个划分（70% / 10% / 20%）。`fit`（`snippets/practice.py`）用 AdamW 训练一个新的
# `SimpleNet`，每个 epoch 之后在验证集上评估；批次顺序由带种子的生成器决定，每次运行结果相同。

# %% [markdown] lang="en"
# ## Data and training
#
# The whole handbook uses one split (70% / 10% / 20%). `fit` (`snippets/practice.py`)
# trains a fresh `SimpleNet` with AdamW and evaluates it on the validation set after every
# epoch; a seeded generator fixes the batch order, so every run gives the same numbers.

# %%
train_set, val_set, test_set = digits_datasets()
cfg = PracticeConfig()
model, history = fit(cfg, train_set, val_set, device=torch.device("cpu"))
print(f"train loss: epoch 1 {history.train_loss[0]:.4f} -> "
      f"epoch {cfg.epochs} {history.train_loss[-1]:.4f}")
print(f"val loss:   epoch 1 {history.val_loss[0]:.4f} -> "
      f"epoch {cfg.epochs} {history.val_loss[-1]:.4f}")

# %% [markdown] lang="zh"
# ## 损失曲线
#
# 图由上面的训练真实画出；替代文字（alt text）也由同一次运行的数字生成，代码一变，图和文字都会跟着变。

# %% [markdown] lang="en"
# ## The loss curves
#
# The figure is drawn from the run above, and so is its alt text: change the code and both
# change with it.

# %%
epochs = range(1, cfg.epochs + 1)
ALT = {
    "zh": f"SimpleNet 的损失曲线：训练损失从 {history.train_loss[0]:.3f} 降到 "
          f"{history.train_loss[-1]:.3f}，验证损失最低为 {min(history.val_loss):.3f}",
    "en": f"SimpleNet loss curves: training loss falls from {history.train_loss[0]:.3f} "
          f"to {history.train_loss[-1]:.3f}, validation loss bottoms out at "
          f"{min(history.val_loss):.3f}",
}
fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
ax.plot(epochs, history.train_loss, label="train")
ax.plot(epochs, history.val_loss, label="validation")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
png = io.BytesIO()
fig.savefig(png, format="png")
plt.close(fig)
display(Image(png.getvalue(), metadata={"alt": ALT}))

# %% [markdown] lang="zh"
# ## 评估
#
# `evaluate` 调用 `model.eval()`，并且不记录计算图。同一个指标在三份数据上比较，才能看出泛化差距；
# 测试集只在最后用这一次。

# %% [markdown] lang="en"
# ## Evaluate
#
# `evaluate` calls `model.eval()` and records no graph. Only the same metric on all three
# sets shows the generalization gap; the test set is used this once, at the end.

# %%
for name, split in [("train", train_set), ("val", val_set), ("test", test_set)]:
    m = evaluate(model, make_loader(split, 256, shuffle=False), torch.device("cpu"))
    print(f"{name:5s} loss {m['loss']:.4f}  accuracy {m['accuracy']:.3f}")
