"""Test-only: run a distributed script and kill one rank part-way, like an OOM kill.

``torchrun ... faulty.py MODULE [flags]`` runs ``snippets.distributed.MODULE`` with
``flags``; on torchrun's first attempt (``TORCHELASTIC_RESTART_COUNT`` 0) rank
``$FAULT_RANK`` SIGKILLs itself once ``$FAULT_STEP`` optimizer steps are done: no
exception, no cleanup.  The taught scripts know nothing of this: the wrapper replaces
the module's ``global_steps`` with one that dies before yielding that step.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

from snippets.distributed.common import run_script


# --8<-- [start:fault]
def run_with_fault() -> None:
    module = importlib.import_module(f"snippets.distributed.{sys.argv[1]}")
    rank, step_to_die = int(os.environ["FAULT_RANK"]), int(os.environ["FAULT_STEP"])
    first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
    steps = module.global_steps

    def faulty_steps(loader, cfg, start):
        for step, batches in steps(loader, cfg, start):
            if (
                first_attempt
                and step == step_to_die
                and int(os.environ["RANK"]) == rank
            ):
                os.kill(os.getpid(), signal.SIGKILL)
            yield step, batches

    module.global_steps = faulty_steps
    run_script(module.main, module.__doc__, sys.argv[2:])


# --8<-- [end:fault]


if __name__ == "__main__":
    run_with_fault()
