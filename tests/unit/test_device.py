"""snippets/device.py"""

import pytest
import torch

import snippets.device as device_module
from snippets.device import amp_dtype, dist_backend, pick_device, seed_everything


def fake_accelerator(monkeypatch, kind: str | None) -> None:
    """Make torch.accelerator report ``kind`` (None: no accelerator)."""
    found = torch.device(kind) if kind else None
    monkeypatch.setattr(
        device_module.torch.accelerator,
        "current_accelerator",
        lambda check_available=False: found,
    )


@pytest.mark.parametrize("kind", ["cuda", "mps", "xpu"])
def test_auto_takes_the_accelerator_when_there_is_one(monkeypatch, kind: str) -> None:
    fake_accelerator(monkeypatch, kind)
    assert pick_device("auto") == torch.device(kind)


def test_auto_falls_back_to_cpu(monkeypatch) -> None:
    fake_accelerator(monkeypatch, None)
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")


def test_an_absent_device_names_the_fix(monkeypatch) -> None:
    fake_accelerator(monkeypatch, "mps")  # an accelerator, but not the one asked for
    with pytest.raises(
        RuntimeError,
        match="CUDA requested but no CUDA device is available; use --device auto",
    ):
        pick_device("cuda")
    fake_accelerator(monkeypatch, None)
    with pytest.raises(RuntimeError, match="XPU requested but no XPU device"):
        pick_device("xpu:1")
    fake_accelerator(monkeypatch, "cuda")
    assert pick_device("cuda:1") == torch.device("cuda", 1)


def test_unknown_device_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown device 'tpu'; choose one of auto"):
        pick_device("tpu")


def test_backends() -> None:
    assert dist_backend(torch.device("cpu")) == "gloo"
    assert dist_backend(torch.device("cuda", 0)) == "nccl"
    assert dist_backend(torch.device("xpu")) == "xccl"


def test_amp_dtypes_and_fp16_off_cuda() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert amp_dtype("off", cpu) is None
    assert amp_dtype("bf16", cpu) is torch.bfloat16
    assert amp_dtype("fp16", cuda) is torch.float16
    with pytest.raises(ValueError, match="amp 'fp16' is for CUDA GPUs without bf16"):
        amp_dtype("fp16", cpu)
    with pytest.raises(ValueError, match="amp must be one of off, bf16, fp16"):
        amp_dtype("fp8", cuda)


@pytest.mark.gpu
def test_cuda_is_picked_when_present() -> None:
    assert pick_device("auto").type == "cuda"
    assert pick_device("cuda:0") == torch.device("cuda", 0)


def test_seeding_repeats_draws() -> None:
    g1 = seed_everything(3)
    a = (torch.rand(3), torch.randperm(5, generator=g1))
    g2 = seed_everything(3)
    b = (torch.rand(3), torch.randperm(5, generator=g2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    seed_everything(4)
    assert not torch.equal(torch.rand(3), a[0])
