"""Image classification: the handbook's digits, its ``DigitsCNN`` and its training loop.

Nothing here is defined twice: the data is the one split of ``snippets.data`` (70 / 10
/ 20 % of scikit-learn's 1,797 bundled 8x8 digits), the model is
``snippets.models.cnn.DigitsCNN`` and the loop is ``snippets.train.train`` with
``evaluate``, the ones the GPU training chapter builds.  With the defaults this is that
chapter's run (seed 0, 10 epochs, batch 64): about 21k parameters and about 98% test
accuracy on a CPU in a few seconds.  What this module adds is what an application needs
after training: predictions for new images, and the test images it gets wrong.

Run ``python -m snippets.applications.images`` (``--epochs`` to change the budget).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import torch

from snippets.data import digits_datasets, make_loader
from snippets.models.cnn import DigitsCNN
from snippets.train import TrainConfig, evaluate, train


# --8<-- [start:config]
@dataclass
class DigitsConfig:
    channels: tuple[int, int] = (32, 64)  # output channels of the two convolutions
    batch_size: int = 64  # images per optimizer step
    seed: int = 0  # seeds the split; train.seed seeds the weights and the batch order
    train: TrainConfig = field(  # the training chapter's loop settings
        default_factory=lambda: TrainConfig(progress=False)
    )
    # --8<-- [end:config]


# --8<-- [start:train]
def train_digits(
    cfg: DigitsConfig, device: torch.device | None = None
) -> tuple[DigitsCNN, list[dict[str, float]], float]:
    """Train ``DigitsCNN`` on the digits split with ``snippets.train.train``.

    Args:
        cfg: model size, batch size and the loop's ``TrainConfig``.
        device: where to train; default: the CPU.

    Returns:
        The model, ``train``'s history (one dict per epoch: ``train_loss``,
        ``val_loss``, ``val_accuracy``, ...) and the accuracy on the test set.
    """
    device = device if device is not None else torch.device("cpu")
    train_set, val_set, test_set = digits_datasets(cfg.seed)
    torch.manual_seed(cfg.train.seed)  # the initial weights
    model = DigitsCNN(channels=cfg.channels).to(device)
    history = train(
        model,
        make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.train.seed),
        make_loader(val_set, 256, shuffle=False),
        cfg.train,
        device,
    )
    test = evaluate(model, make_loader(test_set, 256, shuffle=False), device)
    return model, history, test["accuracy"]
    # --8<-- [end:train]


# --8<-- [start:predict]
@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``(N, C)`` of images ``(N, 1, 8, 8)`` (model in eval mode).

    p_c = exp(z_c) / sum_j exp(z_j), the softmax of the logits z.
    """
    if images.dim() != 4:
        raise ValueError(
            f"images must be (N, 1, 8, 8), got shape {tuple(images.shape)}; "
            "add the channel with unsqueeze(1)"
        )
    model.eval()
    device = next(model.parameters()).device
    return model(images.to(device)).softmax(dim=1).cpu()  # (N, C)


def mistakes(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The examples ``model`` gets wrong, most confident first.

    Returns:
        Their indices into ``images``, the predicted classes and the probability the
        model gave its (wrong) prediction.
    """
    probs = predict(model, images)  # (N, C)
    confidence, predicted = probs.max(dim=1)  # (N,), (N,)
    wrong = (predicted != labels).nonzero().flatten()  # (M,)
    order = confidence[wrong].argsort(descending=True)
    wrong = wrong[order]
    return wrong, predicted[wrong], confidence[wrong]
    # --8<-- [end:predict]


def main(cfg: DigitsConfig) -> None:
    model, history, acc = train_digits(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{n_params} parameters; loss {history[0]['train_loss']:.3f} -> "
        f"{history[-1]['train_loss']:.3f}; test accuracy {acc:.3f}"
    )
    images, labels = digits_datasets(cfg.seed)[2].tensors
    wrong, predicted, confidence = mistakes(model, images, labels)
    for i, p, c in zip(wrong.tolist(), predicted.tolist(), confidence.tolist()):
        print(f"test image {i}: label {labels[i].item()}, predicted {p} ({c:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train DigitsCNN on the digits.")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(
        DigitsConfig(
            seed=args.seed,
            train=TrainConfig(epochs=args.epochs, seed=args.seed, progress=False),
        )
    )
