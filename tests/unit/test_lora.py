"""snippets/lora.py: starts at the base, merge == unmerged, adapter I/O, errors."""

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from snippets.lora import (
    LoRALinear,
    apply_lora,
    load_adapter,
    lora_layers,
    lora_state_dict,
    merge_and_unload,
    save_adapter,
)
from snippets.models.gpt import GPT, GPTConfig

TARGETS = ["c_attn", "c_proj", "c_fc"]


def _gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(block_size=16, n_layer=2, n_head=4, d_model=32)).eval()


def _x() -> torch.Tensor:
    return torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(0))


def _trained(r: int = 4, lora_alpha: float = 8, targets=TARGETS) -> GPT:
    """An adapted GPT whose B is non-zero, as after training."""
    model = _gpt()
    apply_lora(model, targets, r=r, lora_alpha=lora_alpha)
    torch.manual_seed(1)
    for layer in lora_layers(model):
        nn.init.normal_(layer.lora_B.weight, std=0.05)
    return model


def test_layer_formula_and_zero_init() -> None:
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    layer = LoRALinear(base, r=2, lora_alpha=3.0)
    x = torch.randn(4, 6)
    torch.testing.assert_close(layer(x), base(x))  # B = 0: starts as the base
    nn.init.normal_(layer.lora_B.weight)
    expected = base(x) + 1.5 * x @ layer.lora_A.weight.T @ layer.lora_B.weight.T
    torch.testing.assert_close(layer(x), expected)
    assert not base.weight.requires_grad and layer.lora_A.weight.requires_grad


def test_apply_lora_counts_and_freezes() -> None:
    model = _gpt()
    before, _ = model(_x())
    trainable = apply_lora(model, TARGETS, r=4, lora_alpha=8)
    C, L, r = 32, 2, 4
    # per block: c_attn (C -> 3C), attn.c_proj (C -> C), c_fc (C -> 4C), mlp.c_proj
    assert trainable == L * r * ((C + 3 * C) + (C + C) + (C + 4 * C) + (4 * C + C))
    assert len(lora_layers(model)) == 4 * L
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    after, _ = model(_x())
    torch.testing.assert_close(after, before)


def test_merge_equals_unmerged_and_unmerge_restores() -> None:
    model = _trained()
    w0 = model.blocks[0].attn.c_attn.base_layer.weight.clone()
    unmerged, _ = model(_x())
    for layer in lora_layers(model):
        layer.merge()
    merged, _ = model(_x())
    torch.testing.assert_close(merged, unmerged, rtol=1e-4, atol=1e-5)
    assert not torch.equal(model.blocks[0].attn.c_attn.base_layer.weight, w0)
    for layer in lora_layers(model):
        layer.unmerge()
    torch.testing.assert_close(
        model.blocks[0].attn.c_attn.base_layer.weight, w0, rtol=0, atol=1e-6
    )
    plain = merge_and_unload(model)
    assert not lora_layers(plain)
    torch.testing.assert_close(plain(_x())[0], unmerged, rtol=1e-4, atol=1e-5)


def test_adapter_save_and_load(tmp_path) -> None:
    model = _trained()
    size = save_adapter(model, tmp_path / "adapter.safetensors")
    n_adapter = sum(v.numel() for v in lora_state_dict(model).values())
    assert n_adapter * 4 < size < n_adapter * 4 + 8192  # fp32 data plus a JSON header
    assert [p.name for p in tmp_path.iterdir()] == ["adapter.safetensors"]  # no temp
    fresh = _gpt()  # same base weights
    apply_lora(fresh, TARGETS, r=4, lora_alpha=8)
    load_adapter(fresh, tmp_path / "adapter.safetensors")
    torch.testing.assert_close(fresh(_x())[0], model(_x())[0])


def test_adapter_file_carries_its_config(tmp_path) -> None:
    save_adapter(_trained(r=4, lora_alpha=8), tmp_path / "a.safetensors")
    with safe_open(str(tmp_path / "a.safetensors"), "pt") as f:
        config = json.loads(f.metadata()["lora_config"])
    assert config["r"] == 4 and config["lora_alpha"] == 8
    assert config["lora_dropout"] == 0.0 and config["peft_type"] == "LORA"
    assert len(config["target_modules"]) == 8
    assert "blocks.1.mlp.c_fc" in config["target_modules"]


def test_loading_with_another_alpha_is_refused(tmp_path) -> None:
    """Same shapes, other lora_alpha: loading would silently change the outputs."""
    save_adapter(_trained(r=4, lora_alpha=8), tmp_path / "a.safetensors")
    other = _gpt()
    apply_lora(other, TARGETS, r=4, lora_alpha=16)
    with pytest.raises(
        ValueError, match="another LoRA config: lora_alpha: file 8, model 16"
    ):
        load_adapter(other, tmp_path / "a.safetensors")


def test_loading_onto_another_rank_or_layers_names_the_difference(tmp_path) -> None:
    save_adapter(_trained(), tmp_path / "a.safetensors")
    other = _gpt()
    apply_lora(other, TARGETS, r=2, lora_alpha=4)
    with pytest.raises(ValueError, match="r: file 4, model 2; lora_alpha: file 8"):
        load_adapter(other, tmp_path / "a.safetensors")
    fewer = _gpt()
    apply_lora(fewer, ["c_attn"], r=4, lora_alpha=8)
    with pytest.raises(ValueError, match=r"6 layers only in the file, e.g. blocks.0"):
        load_adapter(fewer, tmp_path / "a.safetensors")


def test_loading_a_tampered_file_names_the_keys(tmp_path) -> None:
    model = _trained()
    save_adapter(model, tmp_path / "a.safetensors")
    with safe_open(str(tmp_path / "a.safetensors"), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    key = "blocks.0.attn.c_attn.lora_A.weight"
    tensors[key] = tensors[key][:2]
    tensors["blocks.0.attn.c_proj.lora_B.weight"] = tensors[
        "blocks.0.attn.c_proj.lora_B.weight"
    ].double()
    save_file(tensors, str(tmp_path / "b.safetensors"), metadata=meta)
    message = (
        r"1 shape mismatches, e.g. blocks.0.attn.c_attn.lora_A.weight: "
        r"file \(2, 32\) vs model \(4, 32\); 1 dtype mismatches"
    )
    with pytest.raises(ValueError, match=message):
        load_adapter(model, tmp_path / "b.safetensors")
    save_file(tensors, str(tmp_path / "c.safetensors"))  # no config in the header
    with pytest.raises(ValueError, match="carries no LoRA config"):
        load_adapter(model, tmp_path / "c.safetensors")
    (tmp_path / "d.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="is not a safetensors file"):
        load_adapter(model, tmp_path / "d.safetensors")


def test_loading_into_a_merged_model_is_refused_and_keeps_the_base(tmp_path) -> None:
    """The reported case: load while merged, then unmerge, corrupted W_0 for good."""
    model = _trained()
    w0 = model.blocks[0].attn.c_attn.base_layer.weight.clone()
    other = _trained()
    torch.manual_seed(2)
    for layer in lora_layers(other):
        nn.init.normal_(layer.lora_B.weight, std=0.5)
    save_adapter(other, tmp_path / "other.safetensors")
    for layer in lora_layers(model):
        layer.merge()
    with pytest.raises(
        ValueError,
        match="into 8 merged layers, e.g. blocks.0.attn.c_attn: call unmerge",
    ):
        load_adapter(model, tmp_path / "other.safetensors")
    for layer in lora_layers(model):
        layer.unmerge()
    torch.testing.assert_close(
        model.blocks[0].attn.c_attn.base_layer.weight, w0, rtol=0, atol=1e-6
    )


def test_backward_while_merged_is_a_clear_error() -> None:
    model = _trained()
    for layer in lora_layers(model):
        layer.merge()
    loss = model(_x(), _x())[1]
    with pytest.raises(RuntimeError, match="backward through a merged LoRALinear"):
        loss.backward()
    with torch.no_grad():  # inference on the merged model is what merging is for
        assert model(_x())[0].grad_fn is None


def test_save_without_lora_refuses_and_writes_nothing(tmp_path) -> None:
    with pytest.raises(ValueError, match="the model has no LoRA layers"):
        save_adapter(_gpt(), tmp_path / "a.safetensors")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: LoRALinear(nn.Linear(2, 2), r=0, lora_alpha=1),
            ValueError,
            (
                r"LoRA rank r must be in \[1, 2\] for Linear\(in_features=2, "
                r"out_features=2, bias=True\), got 0"
            ),
        ),
        (
            lambda: LoRALinear(nn.Linear(8, 4), r=2.5, lora_alpha=1),
            TypeError,
            "LoRA rank r must be an integer, got 2.5",
        ),
        (
            lambda: LoRALinear(nn.Linear(8, 4), r=True, lora_alpha=1),
            TypeError,
            "LoRA rank r must be an integer, got True",
        ),
        (
            lambda: LoRALinear(nn.Linear(8, 4), r=5, lora_alpha=1),
            ValueError,
            r"LoRA rank r must be in \[1, 4\]",
        ),
        (
            lambda: LoRALinear(nn.Linear(2, 2), r=1, lora_alpha=0),
            ValueError,
            "LoRA lora_alpha must be finite and > 0, got 0",
        ),
        (
            lambda: LoRALinear(nn.Linear(2, 2), r=1, lora_alpha=math.inf),
            ValueError,
            "LoRA lora_alpha must be finite and > 0, got inf",
        ),
        (
            lambda: LoRALinear(nn.Linear(2, 2), r=1, lora_alpha="8"),
            TypeError,
            "LoRA lora_alpha must be a number, got '8'",
        ),
        (
            lambda: LoRALinear(nn.Linear(2, 2), r=1, lora_alpha=1, lora_dropout=1.0),
            ValueError,
            r"LoRA lora_dropout must be in \[0, 1\), got 1.0",
        ),
        (
            lambda: LoRALinear(nn.Linear(2, 2), r=1, lora_alpha=1, lora_dropout=-0.1),
            ValueError,
            r"LoRA lora_dropout must be in \[0, 1\), got -0.1",
        ),
        (
            lambda: LoRALinear(nn.Linear(2, 2), r=1, lora_alpha=1, lora_dropout=None),
            TypeError,
            "LoRA lora_dropout must be a number, got None",
        ),
        (
            lambda: LoRALinear(nn.Conv1d(2, 2, 1), r=1, lora_alpha=1),
            TypeError,
            "LoRA wraps an nn.Linear, got Conv1d",
        ),
    ],
)
def test_bad_layer_arguments(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()


def test_bad_apply_lora_arguments_leave_the_model_untouched() -> None:
    model = _gpt()
    message = (
        r"target module 'q_proj' matches no nn.Linear.*"
        r"\['c_attn', 'c_fc', 'c_proj', 'lm_head'\]"
    )
    with pytest.raises(ValueError, match=message):
        apply_lora(model, ["q_proj"], r=2, lora_alpha=4)
    message = r"target_modules must be a non-empty list of names, e.g. \['c_attn'\]"
    with pytest.raises(ValueError, match=message + ", got 'c_attn'"):
        apply_lora(model, "c_attn", r=2, lora_alpha=4)
    with pytest.raises(ValueError, match=r"non-empty list of names.*got \[\]"):
        apply_lora(model, [], r=2, lora_alpha=4)
    with pytest.raises(ValueError, match=r"LoRA rank r must be in \[1, 32\]"):
        apply_lora(model, TARGETS, r=33, lora_alpha=4)
    assert not lora_layers(model)
    assert all(p.requires_grad for p in model.parameters())  # nothing frozen


def test_apply_lora_twice_is_refused_with_the_reason() -> None:
    model = _gpt()
    apply_lora(model, TARGETS, r=2, lora_alpha=4)
    with pytest.raises(
        ValueError,
        match="model already has 8 LoRA layers, e.g. "
        "'blocks.0.attn.c_attn'; call merge_and_unload",
    ):
        apply_lora(model, TARGETS, r=2, lora_alpha=4)
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert n > 0  # the first adapters were not frozen by the refused call


def test_dropout_only_in_training() -> None:
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(8, 8), r=2, lora_alpha=2, lora_dropout=0.5)
    nn.init.normal_(layer.lora_B.weight)
    x = torch.randn(3, 8)
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    assert not torch.allclose(layer(x), layer(x))


ANY = st.one_of(
    st.integers(-3, 40),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.text(max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(
    fan_in=st.integers(1, 12), fan_out=st.integers(1, 12), r=ANY, alpha=ANY, dropout=ANY
)
def test_constructor_property(fan_in, fan_out, r, alpha, dropout) -> None:
    """Any arguments: a layer that starts at its base, or our ValueError."""
    base = nn.Linear(fan_in, fan_out)
    try:
        layer = LoRALinear(base, r=r, lora_alpha=alpha, lora_dropout=dropout)
    except (TypeError, ValueError) as err:
        assert str(err).startswith("LoRA ")
        return
    assert isinstance(r, int) and 1 <= r <= min(fan_in, fan_out)
    assert math.isfinite(layer.scaling) and layer.scaling > 0
    assert 0 <= dropout < 1
    x = torch.randn(2, fan_in)
    layer.eval()
    torch.testing.assert_close(layer(x), base(x))
    assert layer.lora_A.weight.shape == (r, fan_in)
    assert layer.lora_B.weight.shape == (fan_out, r)
