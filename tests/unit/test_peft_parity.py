"""snippets/lora.py against Hugging Face PEFT (the reference implementation).

Same base weights and the same A / B weights must give the same outputs and the same
gradients (for A, B and the input).  Seed 0; float32; tolerance rtol 1e-5 / atol 1e-6.
"""

import copy

import torch
from torch import nn

from snippets.lora import (
    apply_lora,
    lora_layers,
    merge_and_unload,
    read_adapter,
    save_adapter,
)


def _peft():
    """PEFT, imported when a test first needs it: importing it (and transformers) takes
    about 6 s, which every test process paid at collection when it was imported here."""
    import peft

    return peft


R, ALPHA = 4, 8.0
TARGETS = ["fc1", "fc2"]


class TinyMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def _pair() -> tuple[nn.Module, nn.Module, nn.Module]:
    torch.manual_seed(0)
    base = TinyMLP()
    ours = copy.deepcopy(base)
    apply_lora(ours, TARGETS, r=R, lora_alpha=ALPHA)
    peft = _peft()
    config = peft.LoraConfig(
        r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=TARGETS
    )
    theirs = peft.inject_adapter_in_model(config, copy.deepcopy(base))
    # B starts at zero in both; give it random values so the adapter path is exercised.
    for name in TARGETS:
        layer = getattr(ours, name)
        nn.init.normal_(layer.lora_B.weight, std=0.5)
        ref = getattr(theirs, name)
        with torch.no_grad():
            ref.lora_A["default"].weight.copy_(layer.lora_A.weight)
            ref.lora_B["default"].weight.copy_(layer.lora_B.weight)
    return base, ours, theirs


def test_same_trainable_parameters_and_scaling() -> None:
    _, ours, theirs = _pair()
    n_ours = sum(p.numel() for p in ours.parameters() if p.requires_grad)
    n_theirs = sum(p.numel() for p in theirs.parameters() if p.requires_grad)
    assert n_ours == n_theirs == R * (12 + 16) + R * (16 + 5)
    assert ours.fc1.scaling == theirs.fc1.scaling["default"] == ALPHA / R


def test_same_outputs_and_gradients() -> None:
    base, ours, theirs = _pair()
    x = torch.randn(8, 12, generator=torch.Generator().manual_seed(1))
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = ours(x1), theirs(x2)
    assert (y1 - base(x)).abs().max() > 0.1  # the adapters really change the output
    torch.testing.assert_close(y1, y2, rtol=1e-5, atol=1e-6)
    (y1**2).sum().backward()
    (y2**2).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-6)
    for name in TARGETS:
        a, b = getattr(ours, name), getattr(theirs, name)
        for mine, ref in ((a.lora_A, b.lora_A), (a.lora_B, b.lora_B)):
            torch.testing.assert_close(
                mine.weight.grad, ref["default"].weight.grad, rtol=1e-5, atol=1e-6
            )
        assert a.base_layer.weight.grad is None and b.base_layer.weight.grad is None


def test_same_merged_weights() -> None:
    _, ours, theirs = _pair()
    for name in TARGETS:
        torch.testing.assert_close(
            getattr(ours, name).delta_weight(),
            getattr(theirs, name).get_delta_weight("default"),
            rtol=1e-5,
            atol=1e-6,
        )
    assert len(lora_layers(ours)) == 2
    merged = merge_and_unload(ours)
    x = torch.randn(3, 12)
    torch.testing.assert_close(merged(x), theirs(x), rtol=1e-5, atol=1e-6)


def test_our_adapter_file_rebuilds_the_peft_model(tmp_path) -> None:
    """The config in our file's header is enough to build the same model in PEFT."""
    base, ours, _ = _pair()
    save_adapter(ours, tmp_path / "a.safetensors")
    config, tensors = read_adapter(tmp_path / "a.safetensors")
    assert config["target_modules"] == TARGETS
    peft = _peft()
    theirs = peft.get_peft_model(
        copy.deepcopy(base),
        peft.LoraConfig(
            r=config["r"],
            lora_alpha=config["lora_alpha"],
            lora_dropout=config["lora_dropout"],
            target_modules=config["target_modules"],
        ),
    )
    peft.set_peft_model_state_dict(
        theirs, {f"base_model.model.{k}": v for k, v in tensors.items()}
    )
    x = torch.randn(4, 12)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-6)
