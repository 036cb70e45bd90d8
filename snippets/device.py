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
# Mixed-precision modes: the autocast dtype of each (None: full fp32).
AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
AMP_CHOICES = tuple(AMP_DTYPES)


# --8<-- [start:pick_device]
def pick_device(requested: str = "auto") -> torch.device:
    """Return the device to run on.

    Args:
        requested: ``"auto"`` for the current accelerator if there is one, else the
            CPU; or an explicit ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"xpu"``, with an
            optional index (``"cuda:1"``), which must be available.
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


# --8<-- [start:amp_dtype]
def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of mixed-precision mode ``amp`` on ``device``; None: fp32.

    fp16 is accepted on CUDA only.  This is the handbook's choice, not a limit of
    PyTorch (``torch.amp.GradScaler("cpu")`` exists): fp16 ends at 65504 and rounds
    gradients below about 6e-8 to 0, so it needs a loss scaler, while bf16 keeps
    fp32's range and needs none.  fp16 is here for GPUs without bf16 (V100, T4); on
    other devices bf16 does the same job with one moving part fewer.

    Args:
        amp: ``"off"``, ``"bf16"`` or ``"fp16"``.
        device: where the model runs.
    """
    if amp not in AMP_DTYPES:
        raise ValueError(f"amp must be one of {', '.join(AMP_DTYPES)}, got {amp!r}")
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(
            f"amp 'fp16' is for CUDA GPUs without bf16; on {device.type} use 'bf16' "
            "(fp32's range, no GradScaler needed) or 'off'"
        )
    return AMP_DTYPES[amp]
    # --8<-- [end:amp_dtype]


def dist_backend(device: torch.device) -> str:
    """The torch.distributed backend for ``device``: nccl on CUDA, xccl on XPU, else
    gloo."""
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
    backend = dist_backend(device)
    print(f"torch {torch.__version__}; device: {device}; backend: {backend}")
