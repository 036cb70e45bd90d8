"""Real data without a download: scikit-learn's bundled handwritten digits.

``load_digits`` ships inside scikit-learn: 1797 grey-scale images of 8 x 8 pixels with
values 0..16, ten classes.  ``digits_datasets`` splits them once, stratified and with
a fixed seed, into train / validation / test sets (70 / 10 / 20 %) of float32 images
shaped ``(N, 1, 8, 8)`` in [0, 1] and int64 labels.  ``make_loader`` wraps a dataset in
a ``DataLoader`` whose shuffling comes from its own seeded ``torch.Generator`` and that
uses no worker processes, the two conditions for a data order that repeats exactly and
can be resumed mid-epoch.  ``digits_train_test`` gives the train and test sets of
that same split (optionally flattened to 64 features) for scripts that need no
validation set, such as the distributed ones; it keeps the split in a file
(:func:`split_cache_dir`), so the processes of a distributed run load it in
milliseconds instead of importing scikit-learn (about 2 s each).

This is the only module that reads the digits: every chapter, application and script
uses this one split.

Run ``python -m snippets.data`` to print the split sizes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Dataset, TensorDataset

from snippets.checkpoint import atomic_write

CACHE_ENV = "HANDBOOK_CACHE_DIR"

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
    # Imported here: scikit-learn takes about 2 s to import, and a process that loads
    # the saved split (digits_train_test) never needs it.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

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


def split_cache_dir() -> Path:
    """Where :func:`digits_train_test` keeps splits: ``$HANDBOOK_CACHE_DIR``, or
    ``~/.cache/pytorch2-handbook``."""
    folder = os.environ.get(CACHE_ENV)
    if folder:
        return Path(folder)
    try:
        return Path.home() / ".cache" / "pytorch2-handbook"
    except RuntimeError:  # no home directory at all
        return Path(tempfile.gettempdir()) / "pytorch2-handbook"


def _split_file(seed: int) -> Path:
    # The key is everything the split depends on: this file, the seed, scikit-learn's
    # version (read from its metadata, without importing it).
    key = hashlib.sha256(Path(__file__).read_bytes())
    key.update(f"seed {seed} scikit-learn {version('scikit-learn')}".encode())
    return split_cache_dir() / f"digits-split-{key.hexdigest()[:16]}.safetensors"


def digits_train_test(
    seed: int = 0, flat: bool = False
) -> tuple[TensorDataset, TensorDataset]:
    """The train and test sets of ``digits_datasets(seed)`` (1257 and 360 examples).

    The validation set is left out; the split is the same one every chapter uses.  The
    first call saves it (safetensors, written atomically) in :func:`split_cache_dir`;
    later calls load that file.  The file's name is a digest of this module, the seed
    and scikit-learn's version, so a changed split is never read from an old file; a
    damaged file is computed and written again, and a cache folder that cannot be
    written only means the split is computed every time.

    Args:
        seed: seed of the split.
        flat: images as rows of 64 pixel features ``(N, 64)`` (for an MLP) instead of
            one-channel images ``(N, 1, 8, 8)``.
    """
    path = _split_file(seed)
    try:
        saved = load_file(path)  # tensors only: loading runs no code
        train = TensorDataset(saved["train_images"], saved["train_labels"])
        test = TensorDataset(saved["test_images"], saved["test_labels"])
    except (OSError, SafetensorError, KeyError):
        train, _, test = digits_datasets(seed)
        tensors = {
            "train_images": train.tensors[0],
            "train_labels": train.tensors[1],
            "test_images": test.tensors[0],
            "test_labels": test.tensors[1],
        }
        try:
            atomic_write(path, lambda tmp: save_file(tensors, tmp))
        except OSError:
            pass  # a read-only home: correct, only slower
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
