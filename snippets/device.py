"""Choose the device once, and seed every random number generator.

``pick_device("auto")`` asks ``torch.accelerator`` (PyTorch 2.6+) for the current
accelerator (CUDA, MPS, XPU, ...) and falls back to the CPU; an explicit request for a
device that is absent fails with a message saying what to do instead.  ``dist_backend``
gives the matching ``torch.distributed`` backend (nccl on CUDA, gloo on CPU).  Code in
this package never hard-codes ``"cuda"``.

Run ``python -m snippets.device`` to see what this machine offers.
"""

from __future__ import annotations

import random

import numpy as np
import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps", "xpu")


# --8<-- [start:pick_device]
def pick_device(requested: str = "auto") -> torch.device:
    """Return the device to run on.

    Args:
        requested: ``"auto"`` for the current accelerator if there is one, else the CPU;
            or an explicit ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"xpu"`` (optionally with an
            index, e.g. ``"cuda:1"``), which must be available.
    """
    kind = requested.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(
            f"unknown device {requested!r}; choose one of {', '.join(DEVICE_CHOICES)}"
        )
    if kind == "auto":
        accelerator = torch.accelerator.current_accelerator(check_available=True)
        return accelerator if accelerator is not None else torch.device("cpu")
    if kind != "cpu":
        accelerator = torch.accelerator.current_accelerator(check_available=True)
        if accelerator is None or accelerator.type != kind:
            raise RuntimeError(
                f"{kind.upper()} requested but no {kind.upper()} device is available; "
                "use --device auto or cpu"
            )
    return torch.device(requested)
# --8<-- [end:pick_device]


def dist_backend(device: torch.device) -> str:
    """The torch.distributed backend for ``device``: nccl on CUDA, xccl on XPU, else gloo."""
    return {"cuda": "nccl", "xpu": "xccl"}.get(device.type, "gloo")


# --8<-- [start:seed_everything]
def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a seeded CPU generator.

    Pass the returned generator to ``DataLoader(generator=...)`` so that the shuffling
    order is reproducible, and resumable, independently of other random draws.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA / MPS / XPU device
    return torch.Generator().manual_seed(seed)
# --8<-- [end:seed_everything]


if __name__ == "__main__":
    device = pick_device("auto")
    print(f"torch {torch.__version__}; device: {device}; backend: {dist_backend(device)}")
