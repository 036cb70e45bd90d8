"""snippets/finetune.py: freezing, optimizer state, checkpoints, loss goes down."""

import pytest
import torch

from snippets import finetune, lora
from snippets.finetune import (
    FinetuneConfig,
    class_subset,
    compare_methods,
    evaluate_lm,
    freeze_except,
    new_head,
    save_trainable,
    train_lm,
    trainable_parameters,
)
from snippets.lora import apply_lora, save_adapter
from snippets.memory import measured_training_bytes
from snippets.models.gpt import GPT, GPTConfig


def _gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(block_size=16, n_layer=2, n_head=4, d_model=32))


def _ids() -> torch.Tensor:
    text = ("the quick brown fox jumps over the lazy dog. " * 30).encode()
    return torch.tensor(list(text))


def test_freeze_except_last_block() -> None:
    model = _gpt()
    n = freeze_except(model, ["blocks.1.", "ln_f."])
    C = 32
    assert n == (12 * C * C + 2 * C) + C
    assert not model.wte.weight.requires_grad
    with pytest.raises(ValueError, match="prefix 'block.9' matches no parameter"):
        freeze_except(model, ["block.9"])


def test_train_lm_lowers_loss_and_counts_state(tmp_path) -> None:
    model = _gpt()
    ids = _ids()
    before = evaluate_lm(model, ids)
    freeze_except(model, ["blocks.1.", "ln_f."])
    optimizer, losses, seconds = train_lm(model, ids, steps=20, lr=1e-2, batch_size=4)
    assert len(losses) == len(seconds) == 20
    assert evaluate_lm(model, ids) < before - 0.3
    n = trainable_parameters(model)
    # AdamW: exp_avg and exp_avg_sq per parameter (step counters left out)
    assert measured_training_bytes(model, optimizer).optimizer == 2 * 4 * n
    size = save_trainable(model, tmp_path / "t.safetensors")
    assert 4 * n < size < 4 * n + 4096


def test_compare_methods_rows(tmp_path) -> None:
    ids = _ids()
    cfg = FinetuneConfig(finetune_steps=3, batch_size=2)
    rows = compare_methods(_gpt(), ids, ids, cfg, tmp_path)
    by = {r.method: r for r in rows}
    assert set(by) == {"full", "frozen", "lora"}
    assert by["lora"].trainable < by["frozen"].trainable < by["full"].trainable
    assert by["lora"].checkpoint_bytes < by["full"].checkpoint_bytes / 5
    assert by["full"].optimizer_bytes == 8 * by["full"].trainable


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"steps": 0}, "steps and batch_size must be >= 1, got 0, 4"),
        ({"batch_size": 0}, "steps and batch_size must be >= 1, got 3, 0"),
        ({"lr": float("inf")}, "lr must be finite and > 0, got inf"),
        ({"lr": -1.0}, "lr must be finite and > 0, got -1.0"),
    ],
)
def test_train_lm_refuses_bad_arguments(kw, message) -> None:
    args = {"steps": 3, "lr": 1e-3, "batch_size": 4, **kw}
    with pytest.raises(ValueError, match=message):
        train_lm(_gpt(), _ids(), **args)


def test_nothing_trainable_is_refused(tmp_path) -> None:
    model = _gpt().requires_grad_(False)
    with pytest.raises(ValueError, match="the model has no trainable parameters"):
        train_lm(model, _ids(), steps=1, lr=1e-3)
    with pytest.raises(ValueError, match="no trainable parameters: nothing to save"):
        save_trainable(model, tmp_path / "t.safetensors")
    assert not any(tmp_path.iterdir())


def _crash_midway(tensors, filename, metadata=None):
    with open(filename, "wb") as f:
        f.write(b"half a file")
    raise OSError("disk full")


@pytest.mark.parametrize("which", ["trainable", "adapter"])
def test_a_failed_save_keeps_the_previous_file(tmp_path, monkeypatch, which) -> None:
    """Trainable-only weights and adapters are written through atomic_write."""
    model = _gpt()
    apply_lora(model, ["c_attn"], r=2, lora_alpha=4)
    path = tmp_path / "w.safetensors"
    save = save_trainable if which == "trainable" else save_adapter
    save(model, path)
    before = path.read_bytes()
    monkeypatch.setattr(finetune, "save_file", _crash_midway)
    monkeypatch.setattr(lora, "save_file", _crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temp left


def test_class_subset_and_new_head() -> None:
    x = torch.arange(10.0).view(10, 1)
    ds = torch.utils.data.TensorDataset(x, torch.arange(10))
    sub = class_subset(ds, [5, 6, 7, 8, 9])
    assert sub.tensors[1].tolist() == [0, 1, 2, 3, 4]
    assert sub.tensors[0][0].item() == 5.0
    from snippets.models.cnn import DigitsCNN

    model = DigitsCNN(num_classes=5)
    n = new_head(model, 3, freeze_backbone=True)
    assert n == model.head.in_features * 3 + 3
    assert not any(p.requires_grad for p in model.features.parameters())
