"""snippets/data.py"""

import subprocess
import sys

import pytest
import torch

from snippets import data
from snippets.data import digits_datasets, digits_train_test, make_loader


def test_split_sizes_shapes_and_ranges() -> None:
    train, val, test = digits_datasets(seed=0)
    assert (len(train), len(val), len(test)) == (
        1257,
        180,
        360,
    )  # 70 / 10 / 20 % of 1797
    for split in (train, val, test):
        images, labels = split.tensors
        assert images.dtype == torch.float32 and labels.dtype == torch.int64
        assert images.shape[1:] == (1, 8, 8)
        assert images.min() >= 0 and images.max() <= 1
        assert images.max() == 1  # 16 / 16: the scaling uses the full range
        assert labels.unique().tolist() == list(range(10))  # stratified: every class


def test_split_is_stratified() -> None:
    train, _, test = digits_datasets(seed=0)
    share_train = torch.bincount(train.tensors[1]) / len(train)
    share_test = torch.bincount(test.tensors[1]) / len(test)
    assert (share_train - share_test).abs().max() < 0.01


def test_split_depends_on_the_seed_only() -> None:
    a, b, c = (
        digits_datasets(seed=0)[0],
        digits_datasets(seed=0)[0],
        digits_datasets(1)[0],
    )
    assert torch.equal(a.tensors[0], b.tensors[0])
    assert not torch.equal(a.tensors[0], c.tensors[0])


def test_loader_order_repeats_with_the_seed_and_changes_per_epoch() -> None:
    train = digits_datasets()[0]

    def first_labels(loader) -> list[torch.Tensor]:
        return [next(iter(loader))[1] for _ in range(2)]  # two epochs

    one, two = (
        first_labels(make_loader(train, 32, True, seed=5)),
        first_labels(make_loader(train, 32, True, seed=5)),
    )
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])
    assert not torch.equal(one[0], one[1])  # a new order each epoch
    other = first_labels(make_loader(train, 32, True, seed=6))
    assert not torch.equal(one[0], other[0])


def test_loader_settings_and_bad_batch_size() -> None:
    loader = make_loader(digits_datasets()[1], 64, shuffle=False)
    assert loader.num_workers == 0 and loader.generator is not None
    assert [len(y) for _, y in loader] == [
        64,
        64,
        52,
    ]  # 180 examples, last batch smaller
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        make_loader(digits_datasets()[1], 0, shuffle=True)


def test_train_test_is_the_same_split_and_can_be_flat() -> None:
    train, _, test = digits_datasets(seed=0)
    train_2d, test_2d = digits_train_test(seed=0)
    assert torch.equal(train_2d.tensors[0], train.tensors[0])
    assert torch.equal(test_2d.tensors[1], test.tensors[1])
    train_flat, test_flat = digits_train_test(seed=0, flat=True)
    assert train_flat.tensors[0].shape == (1257, 64)
    assert test_flat.tensors[0].shape == (360, 64)
    # row-major flattening: pixel (r, c) is feature 8 r + c
    pixels = train_flat.tensors[0]  # (1257, 64)
    assert torch.equal(pixels[:, 8 * 3 + 5], train.tensors[0][:, 0, 3, 5])
    assert torch.equal(train_flat.tensors[1], train.tensors[1])


def test_the_saved_split_is_the_split_and_a_damaged_file_is_redone(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    train, _, test = digits_datasets(seed=1)
    for attempt in ("computed", "loaded"):
        got_train, got_test = digits_train_test(seed=1)
        for mine, expected in ((got_train, train), (got_test, test)):
            for a, b in zip(mine.tensors, expected.tensors):
                assert torch.equal(a, b), attempt
    (saved,) = tmp_path.glob("digits-split-*.safetensors")
    assert digits_train_test(seed=2)[1].tensors[1].tolist() != test.tensors[1].tolist()
    saved.write_bytes(saved.read_bytes()[:100])  # cut short: unreadable
    got_train, _ = digits_train_test(seed=1)
    assert torch.equal(got_train.tensors[0], train.tensors[0])
    assert len(saved.read_bytes()) > 100, "the damaged file was not written again"


def test_a_process_that_loads_the_saved_split_never_imports_sklearn(
    tmp_path, monkeypatch
) -> None:
    # What every rank of a distributed run does: about 2 s less per process.
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    digits_train_test()  # computes and saves the split
    code = (
        "import sys; from snippets.data import digits_train_test; "
        "train, test = digits_train_test(); "
        "print(len(train), len(test), 'sklearn' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.split() == ["1257", "360", "False"], run.stderr
