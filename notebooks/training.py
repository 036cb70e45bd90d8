# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown] lang="zh"
# # 在 GPU 上训练 notebook：DigitsCNN 识别手写数字
#
# 这是「在 GPU 上训练」一章的完整示例，整理成一个可以从头运行到尾的 notebook：
# 加载 scikit-learn 自带的手写数字、定义小型卷积网络 `DigitsCNN`、用 `snippets.train`
# 中的训练循环（预热 + 余弦学习率、梯度裁剪、每个 epoch 验证一次）训练 10 个 epoch，
# 然后画出真实的损失曲线和验证准确率曲线，最后在测试集上评估并画出混淆矩阵。
#
# 页面上的输出和图都是构建网站时真实运行得到的，图的替代文字（alt text）也由同一次运行的数字生成。
# 运行它需要 `torch`、`scikit-learn`、`matplotlib`，以及本手册的 `snippets` 包
# （在仓库根目录执行 `pip install -e .`）；不下载任何东西。有 GPU 时会自动使用 GPU。

# %% [markdown] lang="en"
# # Training notebook: DigitsCNN on handwritten digits
#
# The *Training on GPUs* chapter's example as one notebook you can run top to bottom: load
# the handwritten digits bundled with scikit-learn, define the small convolutional network
# `DigitsCNN`, train it for 10 epochs with the loop from `snippets.train` (warmup + cosine
# learning rate, gradient clipping, a validation pass after every epoch), plot the real
# loss and validation-accuracy curves, and evaluate on the test set with a confusion matrix.
#
# The outputs and figures on this page come from running this notebook when the site was
# built; the figures' alt text is generated from the same run's numbers. It needs `torch`,
# `scikit-learn`, `matplotlib` and the handbook's `snippets` package (`pip install -e .` in
# the repository root); nothing is downloaded. A GPU is used when there is one.

# %%
import io

import matplotlib
import PIL.Image
import torch
from IPython.display import Image, display
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from snippets.device import pick_device
from snippets.train import TrainConfig, evaluate, lr_factor, train

matplotlib.use("Agg")  # render off-screen; figures are shown as PNGs below
import matplotlib.pyplot as plt  # noqa: E402

# Tensors of 8 x 8 images are tiny: one CPU thread is faster than several threads
# waiting on each other, and the numbers do not depend on it.
torch.set_num_threads(1)
device = pick_device("auto")
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
# ## 数据
#
# 1797 张 8 × 8 的灰度手写数字，随 scikit-learn 一起安装。按类别分层、用固定种子
# 一次性切分为 70 % 训练、10 % 验证、20 % 测试，像素缩放到 [0, 1]。
# `make_loader` 给每个 `DataLoader` 配一个自己的带种子生成器，所以打乱顺序每次都一样。

# %% [markdown] lang="en"
# ## The data
#
# 1797 grey-scale handwritten digits of 8 × 8 pixels, installed with scikit-learn. They are
# split once, stratified and with a fixed seed, into 70 % training, 10 % validation and
# 20 % test data, with pixels scaled to [0, 1]. `make_loader` gives every `DataLoader`
# its own seeded generator, so the shuffling order is the same in every run.

# %%
--8<-- "snippets/data.py:digits"

--8<-- "snippets/data.py:loader"

train_set, val_set, test_set = digits_datasets(seed=0)
print("train / val / test:", len(train_set), len(val_set), len(test_set))
images, labels = train_set.tensors  # (1257, 1, 8, 8), (1257,)

fig, axes = plt.subplots(1, 10, figsize=(8, 1.2))
for ax, image, label in zip(axes, images, labels):
    ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(str(label.item()))
    ax.axis("off")
first = ", ".join(str(v) for v in labels[:10].tolist())
show(fig, {
    "zh": f"训练集前 10 张 8×8 像素的手写数字图像，标签依次为 {first}",
    "en": f"The first 10 training images, 8 by 8 pixel handwritten digits labelled {first}",
})

# %% [markdown] lang="zh"
# ## 模型
#
# 两组「3 × 3 卷积 + ReLU + 2 × 2 最大池化」把 (1, 8, 8) 的图像变成 64 张 2 × 2
# 的特征图，展平后由一个线性层给出 10 个类别的得分。代码与 `snippets/models/cnn.py`
# 中经过单元测试的代码逐字节相同。

# %% [markdown] lang="en"
# ## The model
#
# Two blocks of 3 × 3 convolution, ReLU and 2 × 2 max-pooling turn a (1, 8, 8) image into
# 64 maps of 2 × 2; a flatten and one linear layer give the ten class scores. The
# code is byte for byte the unit-tested code in `snippets/models/cnn.py`.

# %%
--8<-- "snippets/models/cnn.py:model"

torch.manual_seed(0)
model = DigitsCNN()
print(sum(p.numel() for p in model.parameters()), "parameters")

# %% [markdown] lang="zh"
# ## 训练
#
# `train` 来自 `snippets/train.py`（逐行讲解见本章正文）：AdamW、预热 20 步后余弦衰减的
# 学习率、梯度范数裁剪到 1.0，每个 epoch 结束在验证集上评估一次，返回每个 epoch 一行的指标记录。
# 10 个 epoch、每个 epoch 20 个 batch，共 200 个优化步。

# %% [markdown] lang="en"
# ## Training
#
# `train` comes from `snippets/train.py` (the chapter walks through it line by line):
# AdamW, a learning rate that warms up for 20 steps and then follows a cosine, the gradient
# norm clipped to 1.0, a validation pass after every epoch, and one row of metrics per
# epoch as the result. 10 epochs of 20 batches make 200 optimizer steps.

# %%
train_loader = make_loader(train_set, batch_size=64, shuffle=True, seed=0)
val_loader = make_loader(val_set, batch_size=256, shuffle=False)
cfg = TrainConfig(epochs=10, progress=False)
history = train(model, train_loader, val_loader, cfg, device)
for row in history:
    print(f"epoch {row['epoch']:2d}  step {row['step']:3d}  lr {row['lr']:.4f}  "
          f"train loss {row['train_loss']:.3f}  val loss {row['val_loss']:.3f}  "
          f"val accuracy {row['val_accuracy']:.3f}")

# %% [markdown] lang="zh"
# ## 损失、准确率与学习率曲线
#
# 三幅图都来自上面这次训练返回的 `history`：训练损失应当稳步下降；验证损失不再下降时，
# 模型开始过拟合。右图是 `lr_factor` 给出的每一步的学习率，圆点是训练循环在每个 epoch
# 结束时记录的实际学习率，两者应当重合。

# %% [markdown] lang="en"
# ## Loss, accuracy and learning-rate curves
#
# All three panels come from the `history` the run above returned. The training loss
# should fall steadily; when the validation loss stops falling, the model starts to
# overfit. The right panel is the learning rate of every step from `lr_factor`; the dots
# are the learning rates the loop recorded at the end of each epoch, and they should lie
# on the curve.

# %%
epochs = [row["epoch"] for row in history]
train_loss = [row["train_loss"] for row in history]
val_loss = [row["val_loss"] for row in history]
val_acc = [row["val_accuracy"] for row in history]
total_steps = history[-1]["step"]
# the learning rate in effect after s optimizer steps, s = 0 .. total_steps
schedule = [cfg.lr * lr_factor(s, cfg.warmup_steps, total_steps, cfg.min_lr_ratio)
            for s in range(total_steps + 1)]
print("recorded lr on the schedule:",
      all(abs(schedule[row["step"]] - row["lr"]) < 1e-9 for row in history))

fig, (ax_loss, ax_acc, ax_lr) = plt.subplots(1, 3, figsize=(10, 3))
ax_loss.plot(epochs, train_loss, marker="o", label="train")
ax_loss.plot(epochs, val_loss, marker="o", label="validation")
ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log")
ax_loss.legend()
ax_acc.plot(epochs, val_acc, marker="o", color="C2")
ax_acc.set(xlabel="epoch", ylabel="validation accuracy")
ax_lr.plot(range(total_steps + 1), schedule, color="C3")
ax_lr.plot([row["step"] for row in history], [row["lr"] for row in history], "o",
           color="C3")
ax_lr.set(xlabel="optimizer steps taken", ylabel="learning rate")
for ax in (ax_loss, ax_acc, ax_lr):
    ax.grid(alpha=0.3)
fig.tight_layout()

best = max(range(len(history)), key=lambda i: val_acc[i])
lowest = min(range(len(history)), key=lambda i: val_loss[i])
show(fig, {
    "zh": f"三幅曲线图。左：训练损失（对数坐标）在 {len(epochs)} 个 epoch 内从 "
          f"{train_loss[0]:.3f} 降到 {train_loss[-1]:.3f}，验证损失从 {val_loss[0]:.3f} "
          f"降到最低 {val_loss[lowest]:.3f}（第 {epochs[lowest]} 个 epoch），最后为 "
          f"{val_loss[-1]:.3f}。中：验证准确率从 {val_acc[0]:.3f} 升到最高 "
          f"{val_acc[best]:.3f}（第 {epochs[best]} 个 epoch），最后为 {val_acc[-1]:.3f}。"
          f"右：学习率在前 {cfg.warmup_steps} 步线性升到 {cfg.lr:g}，"
          f"再按余弦降到第 {total_steps} 步的 {schedule[-1]:.4f}。",
    "en": f"Three curves. Left: training loss (log scale) falls from {train_loss[0]:.3f} "
          f"to {train_loss[-1]:.3f} over {len(epochs)} epochs; validation loss falls from "
          f"{val_loss[0]:.3f} to a lowest {val_loss[lowest]:.3f} at epoch "
          f"{epochs[lowest]} and ends at {val_loss[-1]:.3f}. Middle: validation accuracy "
          f"rises from {val_acc[0]:.3f} to a best {val_acc[best]:.3f} at epoch "
          f"{epochs[best]} and ends at {val_acc[-1]:.3f}. Right: the learning rate rises "
          f"linearly to {cfg.lr:g} over {cfg.warmup_steps} steps, then follows a cosine "
          f"down to {schedule[-1]:.4f} at step {total_steps}.",
})

# %% [markdown] lang="zh"
# ## 在测试集上评估
#
# 测试集在训练和挑选超参数时都没有用过，它给出的准确率才是对新数据的估计。
# 混淆矩阵的第 *i* 行第 *j* 列是「真实为 *i*、预测为 *j*」的图像数，对角线以外的格子就是错误。

# %% [markdown] lang="en"
# ## Evaluate on the test set
#
# The test set was used neither for training nor for choosing settings, so its accuracy
# is the estimate for new data. Row *i*, column *j* of the confusion matrix counts the
# images of digit *i* predicted as *j*; everything off the diagonal is a mistake.

# %%
test_loader = make_loader(test_set, batch_size=256, shuffle=False)
test = evaluate(model, test_loader, device)
print(f"test accuracy {test['accuracy']:.3f}  test loss {test['loss']:.3f}")
assert test["accuracy"] >= 0.95

model.eval()
confusion = torch.zeros(10, 10, dtype=torch.long)
with torch.no_grad():
    for x, y in test_loader:
        predicted = model(x.to(device)).argmax(dim=1).cpu()  # (B,)
        confusion += torch.bincount(y * 10 + predicted, minlength=100).view(10, 10)
print("mistakes:", int(confusion.sum() - confusion.trace()), "of", int(confusion.sum()))

off = confusion.clone()
off.fill_diagonal_(0)
true_digit, wrong_digit = divmod(int(off.argmax()), 10)
fig, ax = plt.subplots(figsize=(4.2, 3.6))
ax.imshow(confusion, cmap="Blues")
for i in range(10):
    for j in range(10):
        if confusion[i, j]:
            color = "white" if confusion[i, j] > confusion.max() / 2 else "black"
            ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=7,
                    color=color)
ax.set(xlabel="predicted digit", ylabel="true digit", xticks=range(10), yticks=range(10))
fig.tight_layout()
show(fig, {
    "zh": f"测试集混淆矩阵：{int(confusion.sum())} 张图像中 {int(confusion.trace())} 张在对角线上"
          f"（准确率 {test['accuracy']:.3f}）；最常见的错误是把 {true_digit} 认成 "
          f"{wrong_digit}，共 {int(off.max())} 次",
    "en": f"Test-set confusion matrix: {int(confusion.trace())} of {int(confusion.sum())} "
          f"images on the diagonal (accuracy {test['accuracy']:.3f}); the most frequent "
          f"mistake is a {true_digit} predicted as {wrong_digit}, {int(off.max())} times",
})
