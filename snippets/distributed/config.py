"""``DistConfig``: the settings of the distributed scripts, and their command line.

Fields shared with ``snippets.train.TrainConfig`` (``lr``, ``weight_decay``,
``grad_accum_steps``, ``seed``, ``run_dir``, ``save_every``, ``keep_last``, ``resume``,
``log_every``) have the same names and meanings there and here.  ``DistConfig`` is the
single validator: the command line turns its ``ValueError`` into the script's error.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass

from snippets.device import DEVICE_CHOICES

# Settings a resumed run must share with its checkpoint, or it would not continue the
# same run.  The world size is not among them: the global batch fixes the math.
RESUME_MUST_MATCH = ("global_batch", "grad_accum_steps", "lr", "weight_decay", "seed")


# --8<-- [start:config]
@dataclass
class DistConfig:
    """Hyperparameters and run settings of ``single``, ``ddp`` and ``fsdp``."""

    steps: int = 48  # optimizer steps in total (not epochs), for any world size
    global_batch: int = 64  # examples per optimizer step, summed over all processes
    grad_accum_steps: int = 1  # micro-batches per optimizer step on each process
    lr: float = 1e-2  # AdamW's learning rate (constant: no schedule here)
    weight_decay: float = 0.01  # AdamW's decoupled weight decay
    seed: int = 0  # seeds the initial weights and the sampler's shuffle
    run_dir: str | None = None  # checkpoints/, weights, metrics.json; None: no files
    save_every: int = 0  # also checkpoint every N optimizer steps (0: at epoch ends)
    keep_last: int = 2  # intact checkpoints kept on disk
    resume: bool = False  # continue from the newest intact checkpoint in run_dir
    log_every: int = 8  # rank 0 prints the loss every N steps
    device: str = "auto"  # auto, cpu, cuda, ... (snippets.device.pick_device)
    timeout_s: float = 60.0  # give up on a missing peer after this long, don't hang

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "global_batch",
            "grad_accum_steps",
            "keep_last",
            "log_every",
        ):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"DistConfig.{name} must be >= 1, got {getattr(self, name)}"
                )
        if self.save_every < 0:
            raise ValueError(
                f"DistConfig.save_every must be >= 0, got {self.save_every}"
            )
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"DistConfig.lr must be finite and > 0, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(
                "DistConfig.weight_decay must be finite and >= 0, "
                f"got {self.weight_decay}"
            )
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ValueError(
                f"DistConfig.timeout_s must be finite and > 0, got {self.timeout_s}"
            )
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"DistConfig.seed must be in [0, 2**63), got {self.seed}")
        if self.resume and self.run_dir is None:
            raise ValueError("DistConfig.resume needs a run_dir to resume from")
            # --8<-- [end:config]


def config_parser(description: str = "") -> argparse.ArgumentParser:
    """One flag per ``DistConfig`` field: ``--global-batch 64``, ``--resume`` ..."""
    parser = argparse.ArgumentParser(description=description)
    for field in dataclasses.fields(DistConfig):
        flag = "--" + field.name.replace("_", "-")
        if field.default is False:
            parser.add_argument(flag, action="store_true")
        elif field.name == "device":
            parser.add_argument(flag, choices=DEVICE_CHOICES, default=field.default)
        else:
            kind = str if field.default is None else type(field.default)
            parser.add_argument(flag, type=kind, default=field.default)
    return parser
