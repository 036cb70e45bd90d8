"""Real data without a download: scikit-learn's bundled handwritten digits.

``load_digits`` ships inside scikit-learn: 1797 grey-scale images of 8 x 8 pixels with
values 0..16, ten classes.  ``digits_datasets`` splits them once, stratified and with
a fixed seed, into train / validation / test sets (70 / 10 / 20 %) of float32 images
shaped ``(N, 1, 8, 8)`` in [0, 1] and int64 labels.  ``make_loader`` wraps a dataset in
a ``DataLoader`` whose shuffling comes from its own seeded ``torch.Generator`` and that
uses no worker processes, the two conditions for a data order that repeats exactly and
can be resumed mid-epoch.  ``digits_train_test`` gives the train and test sets of
that same split (optionally flattened to 64 features) for scripts that need no
validation set, such as the distributed ones.

This is the only module that reads the digits: every chapter, application and script
uses this one split.

Run ``python -m snippets.data`` to print the split sizes.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Dataset, TensorDataset

# --8<-- [start:digits]
DIGITS_MAX_PIXEL = 16.0  # load_digits stores intensities 0..16


def digits_datasets(
    seed: int = 0,
) -> tuple[TensorDataset, TensorDataset, TensorDataset]:
    """Train / validation / test splits (70 / 10 / 20 %) of scikit-learn's digits.

    Each split is stratified, so every class keeps its share of examples, and depends
    only on ``seed``.

    Args:
        seed: seed of the split (not of training).

    Returns:
        Three ``TensorDataset`` of ``(image, label)``: images float32 ``(N, 1, 8, 8)``
        scaled to [0, 1], labels int64 in 0..9.
    """
    digits = load_digits()
    images = digits.images.astype("float32") / DIGITS_MAX_PIXEL  # (1797, 8, 8)
    labels = digits.target.astype("int64")
    x_rest, x_test, y_rest, y_test = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=seed
    )
    # 0.125 of the remaining 80 % is 10 % of the whole set
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.125, stratify=y_rest, random_state=seed
    )

    def to_dataset(x, y) -> TensorDataset:
        x = torch.from_numpy(x).unsqueeze(1)  # (N, 8, 8) -> (N, 1, 8, 8): one channel
        return TensorDataset(x, torch.from_numpy(y))

    return (
        to_dataset(x_train, y_train),
        to_dataset(x_val, y_val),
        to_dataset(x_test, y_test),
    )
    # --8<-- [end:digits]


def digits_train_test(
    seed: int = 0, flat: bool = False
) -> tuple[TensorDataset, TensorDataset]:
    """The train and test sets of ``digits_datasets(seed)`` (1257 and 360 examples).

    The validation set is left out; the split is the same one every chapter uses.

    Args:
        seed: seed of the split.
        flat: images as rows of 64 pixel features ``(N, 64)`` (for an MLP) instead of
            one-channel images ``(N, 1, 8, 8)``.
    """
    train, _, test = digits_datasets(seed)
    if not flat:
        return train, test

    def flatten(split: TensorDataset) -> TensorDataset:
        images, labels = split.tensors
        return TensorDataset(images.flatten(1), labels)  # (N, 1, 8, 8) -> (N, 64)

    return flatten(train), flatten(test)


# --8<-- [start:loader]
def make_loader(
    dataset: Dataset, batch_size: int, shuffle: bool, seed: int = 0
) -> DataLoader:
    """A DataLoader whose order repeats exactly for a given ``seed``.

    Args:
        dataset: any map-style dataset.
        batch_size: examples per batch (>= 1); the last batch may be smaller.
        shuffle: draw a new order every epoch from the loader's own generator.
        seed: seed of that generator; it is independent of the global torch seed, so
            model code drawing random numbers does not change the data order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    # num_workers=0: batches are built in this process, so the order depends on
    # `generator` alone and a resumed run can replay it.
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=0,
    )
    # --8<-- [end:loader]


if __name__ == "__main__":
    for name, split in zip(("train", "val", "test"), digits_datasets()):
        images, labels = split.tensors
        print(f"{name:5s} {tuple(images.shape)} classes={labels.unique().numel()}")
