"""snippets/lora.py: starts at the base, merge == unmerged, adapter I/O, errors."""

import pytest
import torch
from torch import nn

from snippets.lora import (LoRALinear, apply_lora, load_adapter, lora_layers,
                           lora_state_dict, merge_and_unload, save_adapter)
from snippets.models.gpt import GPT, GPTConfig

TARGETS = ["c_attn", "c_proj", "c_fc"]


def _gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(block_size=16, n_layer=2, n_head=4, d_model=32)).eval()


def _x() -> torch.Tensor:
    return torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(0))


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
    model = _gpt()
    apply_lora(model, TARGETS, r=4, lora_alpha=8)
    for layer in lora_layers(model):
        nn.init.normal_(layer.lora_B.weight, std=0.05)
    w0 = model.blocks[0].attn.c_attn.base_layer.weight.clone()
    unmerged, _ = model(_x())
    for layer in lora_layers(model):
        layer.merge()
    merged, _ = model(_x())
    torch.testing.assert_close(merged, unmerged, rtol=1e-4, atol=1e-5)
    assert not torch.equal(model.blocks[0].attn.c_attn.base_layer.weight, w0)
    for layer in lora_layers(model):
        layer.unmerge()
    torch.testing.assert_close(model.blocks[0].attn.c_attn.base_layer.weight, w0,
                               rtol=0, atol=1e-6)
    plain = merge_and_unload(model)
    assert not lora_layers(plain)
    torch.testing.assert_close(plain(_x())[0], unmerged, rtol=1e-4, atol=1e-5)


def test_adapter_save_and_load(tmp_path) -> None:
    model = _gpt()
    apply_lora(model, TARGETS, r=4, lora_alpha=8)
    for layer in lora_layers(model):
        nn.init.normal_(layer.lora_B.weight, std=0.05)
    size = save_adapter(model, tmp_path / "adapter.safetensors")
    n_adapter = sum(v.numel() for v in lora_state_dict(model).values())
    assert n_adapter * 4 < size < n_adapter * 4 + 8192  # fp32 data plus a JSON header
    fresh = _gpt()  # same base weights
    apply_lora(fresh, TARGETS, r=4, lora_alpha=8)
    load_adapter(fresh, tmp_path / "adapter.safetensors")
    torch.testing.assert_close(fresh(_x())[0], model(_x())[0])


def test_loading_onto_a_different_shape_names_the_keys(tmp_path) -> None:
    model = _gpt()
    apply_lora(model, TARGETS, r=4, lora_alpha=8)
    save_adapter(model, tmp_path / "a.safetensors")
    other = _gpt()
    apply_lora(other, TARGETS, r=2, lora_alpha=4)
    message = (r"16 shape mismatches, e.g. blocks.0.attn.c_attn.lora_A.weight: "
               r"file \(4, 32\) vs model \(2, 32\)")
    with pytest.raises(ValueError, match=message):
        load_adapter(other, tmp_path / "a.safetensors")
    fewer = _gpt()
    apply_lora(fewer, ["c_attn"], r=4, lora_alpha=8)
    with pytest.raises(ValueError, match=r"12 unexpected keys, e.g. blocks.0.attn"):
        load_adapter(fewer, tmp_path / "a.safetensors")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="LoRA rank r must be >= 1, got 0"):
        LoRALinear(nn.Linear(2, 2), r=0, lora_alpha=1)
    with pytest.raises(ValueError, match="LoRA lora_alpha must be > 0, got 0"):
        LoRALinear(nn.Linear(2, 2), r=1, lora_alpha=0)
    message = (r"target module 'q_proj' matches no nn.Linear.*"
               r"\['c_attn', 'c_fc', 'c_proj', 'lm_head'\]")
    with pytest.raises(ValueError, match=message):
        apply_lora(_gpt(), ["q_proj"], r=2, lora_alpha=4)


def test_dropout_only_in_training() -> None:
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(8, 8), r=2, lora_alpha=2, lora_dropout=0.5)
    nn.init.normal_(layer.lora_B.weight)
    x = torch.randn(3, 8)
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    assert not torch.allclose(layer(x), layer(x))
