"""snippets/modules.py"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snippets.modules import (
    MLP,
    ActivationRecorder,
    Block,
    Standardize,
    TinyNet,
    TinyNetConfig,
    count_parameters,
)


def test_mlp_matches_its_formula() -> None:
    torch.manual_seed(0)
    mlp = MLP(d_model=6, hidden=12)
    x = torch.randn(5, 6)
    hidden = F.gelu(x @ mlp.fc1.weight.T + mlp.fc1.bias)
    expected = hidden @ mlp.fc2.weight.T + mlp.fc2.bias
    torch.testing.assert_close(mlp(x), expected)  # default float32 tolerances


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"d_model": 0, "hidden": 4},
            "MLP widths must be >= 1, got d_model=0, hidden=4",
        ),
        (
            {"d_model": 4, "hidden": 4, "dropout": 1.0},
            r"dropout must be in \[0, 1\), got 1.0",
        ),
    ],
)
def test_mlp_refuses_bad_sizes(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


def test_block_is_residual_over_normalized_mlp() -> None:
    torch.manual_seed(0)
    block = Block(d_model=8, hidden=16)
    x = torch.randn(4, 8)
    torch.testing.assert_close(block(x), x + block.mlp(block.norm(x)))
    # with the MLP's output layer zeroed the block is exactly the identity
    nn.init.zeros_(block.mlp.fc2.weight)
    nn.init.zeros_(block.mlp.fc2.bias)
    assert torch.equal(block(x), x)


def test_standardize_fits_buffers_not_parameters() -> None:
    torch.manual_seed(0)
    data = torch.randn(512, 3) * torch.tensor([1.0, 10.0, 0.1]) + 4.0
    scale = Standardize(3).fit(data)
    z = scale(data)
    torch.testing.assert_close(z.mean(dim=0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(dim=0), torch.ones(3), atol=1e-5, rtol=0)
    assert list(dict(scale.named_parameters())) == []
    assert set(scale.state_dict()) == {"mean", "std"}


def test_standardize_guards_constant_features_and_bad_shapes() -> None:
    data = torch.ones(10, 2)
    scale = Standardize(2, eps=1e-3).fit(data)
    assert torch.isfinite(scale(data)).all()
    message = r"expected data of shape \(N, 2\), got \(10, 3\)"
    with pytest.raises(ValueError, match=message):
        scale.fit(torch.ones(10, 3))


def test_tinynet_shapes_and_parameter_count() -> None:
    cfg = TinyNetConfig(in_features=5, d_model=8, hidden=16, n_blocks=3, n_classes=4)
    model = TinyNet(cfg)
    assert model(torch.randn(7, 5)).shape == (7, 4)
    F_in, d, h, n, C = 5, 8, 16, 3, 4
    formula = (F_in * d + d) + n * (2 * d + d * h + h + h * d + d) + (d * C + C)
    assert count_parameters(model) == formula
    # every block is registered: its parameters are visible by name
    names = dict(model.named_parameters())
    assert all(f"blocks.{i}.mlp.fc1.weight" in names for i in range(n))


def test_tinynet_refuses_zero_blocks() -> None:
    with pytest.raises(ValueError, match="TinyNet needs n_blocks >= 1, got 0"):
        TinyNet(TinyNetConfig(n_blocks=0))


def test_state_dict_round_trip_and_missing_keys(tmp_path) -> None:
    torch.manual_seed(0)
    cfg = TinyNetConfig()
    model = TinyNet(cfg).eval()
    model.scale.fit(torch.randn(64, cfg.in_features) * 3)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    torch.manual_seed(1)
    other = TinyNet(cfg).eval()
    other.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    x = torch.randn(4, cfg.in_features)
    assert torch.equal(other(x), model(x))
    bigger = TinyNet(TinyNetConfig(n_blocks=3))
    result = bigger.load_state_dict(model.state_dict(), strict=False)
    assert len(result.missing_keys) == 6 and result.unexpected_keys == []


def test_dropout_follows_train_and_eval() -> None:
    torch.manual_seed(0)
    model = TinyNet(TinyNetConfig(dropout=0.5))
    x = torch.randn(16, 10)
    model.train()
    assert not torch.equal(model(x), model(x))  # fresh dropout masks each call
    model.eval()
    assert torch.equal(model(x), model(x))


def test_recorder_records_and_removes_its_hooks() -> None:
    torch.manual_seed(0)
    model = TinyNet(TinyNetConfig())
    with ActivationRecorder(model, ["embed", "blocks.1.mlp.act"]) as rec:
        model(torch.randn(3, 10))
        assert len(model.embed._forward_hooks) == 1
    assert rec.activations["embed"].shape == (3, 32)
    assert rec.activations["blocks.1.mlp.act"].shape == (3, 64)
    assert not rec.activations["embed"].requires_grad
    assert len(model.embed._forward_hooks) == 0
    assert len(model.blocks[1].mlp.act._forward_hooks) == 0


def test_recorder_names_a_bad_submodule() -> None:
    with pytest.raises(KeyError, match="no submodule named 'blocks.9'"):
        ActivationRecorder(TinyNet(TinyNetConfig()), ["blocks.9"])


def test_freezing_leaves_only_the_head_trainable() -> None:
    torch.manual_seed(0)
    cfg = TinyNetConfig()
    model = TinyNet(cfg)
    model.requires_grad_(False)
    model.head.requires_grad_(True)
    head_size = cfg.d_model * cfg.n_classes + cfg.n_classes
    assert count_parameters(model, trainable_only=True) == head_size
    F.cross_entropy(model(torch.randn(4, 10)), torch.tensor([0, 1, 0, 1])).backward()
    assert model.embed.weight.grad is None
    assert model.head.weight.grad is not None
