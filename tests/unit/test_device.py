"""snippets/device.py"""

import pytest
import torch

from snippets.device import dist_backend, pick_device, seed_everything


def test_auto_picks_the_current_accelerator_or_cpu() -> None:
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    expected = accelerator.type if accelerator is not None else "cpu"
    assert pick_device("auto").type == expected


def test_cpu_is_always_available() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert dist_backend(torch.device("cpu")) == "gloo"
    assert dist_backend(torch.device("cuda", 0)) == "nccl"


def test_unknown_device_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown device 'tpu'; choose one of auto, cpu"):
        pick_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_absent_device_names_the_fix() -> None:
    with pytest.raises(RuntimeError, match="CUDA requested but no CUDA device is available; "
                                           "use --device auto or cpu"):
        pick_device("cuda")


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
