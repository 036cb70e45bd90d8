"""Test-only torchrun worker: does a plain ``init_process_group`` survive a restart?

Attempt 0: both ranks join with a plain ``init_process_group("gloo")`` (``env://``),
then rank 1 SIGKILLs itself; torchrun (``--max-restarts=1``) stops rank 0 and starts
attempt 1 with the same agent store.  Attempt 1: rank 0 lists the keys that attempt 0
left in that store and waits; rank 1 tries the plain ``init_process_group`` again and
reports what happens.  (Rank 0 does not join in attempt 1: a peer that restarts later
than the others, which makes the race that real restarts lose often a certain loss.)
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import torch
import torch.distributed as dist

TIMEOUT = timedelta(seconds=60)  # the store's; a join gets PLAIN_TIMEOUT
PLAIN_TIMEOUT = timedelta(seconds=3)


def say(text: str) -> None:
    print(
        f"attempt {os.environ['TORCHELASTIC_RESTART_COUNT']} rank "
        f"{os.environ['RANK']}: {text}",
        flush=True,
    )


def main() -> None:
    attempt = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
    rank = int(os.environ["RANK"])
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        is_master=False,
        timeout=TIMEOUT,
    )  # torchrun's agent store
    if attempt == 0:
        dist.init_process_group("gloo", timeout=TIMEOUT)
        dist.all_reduce(torch.ones(1))
        say("joined")
        if rank == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # stopped by the agent when it sees rank 1 die
    if rank == 0:
        left = sorted(k for k in store.list_keys() if k.startswith("default_pg"))
        say(f"keys left by attempt 0: {left}")
    else:
        started = time.perf_counter()
        try:
            dist.init_process_group("gloo", timeout=PLAIN_TIMEOUT)
            say("plain init_process_group: joined")
        except RuntimeError as err:
            say(
                f"plain init_process_group failed after "
                f"{time.perf_counter() - started:.0f} s: {type(err).__name__}: "
                f"{str(err).splitlines()[0]}"
            )
        store.set("probe/plain_done", "1")
    store.wait(["probe/plain_done"])  # rank 0 stays until rank 1 has tried


if __name__ == "__main__":
    main()
