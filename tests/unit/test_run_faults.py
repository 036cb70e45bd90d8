"""snippets/train.py + snippets/checkpoint.py under faults: SIGKILL at random moments
(mid-step, mid-save, mid-pruning: a checkpoint every step, only the newest kept) while a
second run tries to take the same run directory.  Nothing a completed step saved may
be lost, the intruder must be refused by name, and the run must still finish.
"""

import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from snippets.checkpoint import latest_checkpoint

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 16  # 2 epochs of 8 steps
CHILD = textwrap.dedent("""
    import os, sys, time
    import torch
    from torch.utils.data import TensorDataset, default_collate
    from snippets.checkpoint import RunDirError
    from snippets.data import digits_train_test, make_loader
    from snippets.models.cnn import DigitsCNN
    from snippets.train import TrainConfig, train

    run_dir, resume = sys.argv[1], sys.argv[2] == "1"
    # the saved split: the children never import scikit-learn (about 2 s each)
    x, y = (t[:256] for t in digits_train_test(seed=0)[0].tensors)
    loader = make_loader(TensorDataset(x, y), 32, shuffle=True)
    # slow batches: the winner still holds the run dir when a slow-starting loser asks
    loader.collate_fn = lambda b: (time.sleep(0.15), default_collate(b))[1]
    torch.manual_seed(0)
    print("ready", flush=True)
    sys.stdin.readline()  # "go": contenders start together, imports done
    cfg = TrainConfig(epochs=2, run_dir=run_dir, resume=resume, save_every=1,
                      keep_last=1, progress=False)
    try:
        train(DigitsCNN(channels=(4, 8)), loader, None, cfg)
    except RunDirError as err:
        print(err, file=sys.stderr, flush=True)
        os._exit(3)  # at once: the parent waits for the loser
""")


def committed(run_dir: Path) -> int:
    """Newest step whose marker exists (a cheap look while the child writes)."""
    steps = [0]
    for path in (run_dir / "checkpoints").glob("step-*/complete.json"):
        steps.append(int(path.parent.name[5:]))
    return max(steps)


def intact_step(run_dir: Path) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # half-deleted leftovers are skipped, named
        newest = latest_checkpoint(run_dir)
    return int(newest.name[5:]) if newest else 0


def start(script: Path, run_dir: Path, resume: bool) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), str(run_dir), "1" if resume else "0"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def go(*procs: subprocess.Popen) -> None:
    """Wait until every process has imported everything, then release them at once."""
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.communicate()[1]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()


@pytest.mark.slow
def test_random_kills_and_a_contending_run_lose_nothing(tmp_path: Path) -> None:
    script, run_dir = tmp_path / "child.py", tmp_path / "run"
    script.write_text(CHILD)
    rng = random.Random(0)  # random moments, the same ones on every test run
    resume, kills = False, 0
    for _ in range(2):
        before = committed(run_dir)
        procs = [start(script, run_dir, resume) for _ in range(2)]
        go(*procs)
        while all(p.poll() is None for p in procs):  # one of them must give way
            time.sleep(0.005)
        loser = next(p for p in procs if p.poll() is not None)
        winner = next(p for p in procs if p is not loser)
        _, err = loser.communicate()
        assert loser.returncode == 3, err
        assert f"is in use by another run (pid {winner.pid}" in err
        deadline = time.monotonic() + 60
        while committed(run_dir) <= before and winner.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.1))  # a step, a save or a pruning under way
        seen = committed(run_dir)
        winner.send_signal(signal.SIGKILL)  # no effect if it has finished
        _, err = winner.communicate()
        kills += winner.returncode == -signal.SIGKILL
        assert intact_step(run_dir) >= seen  # what a completed step saved is there
        resume = True
    last = start(script, run_dir, resume=True)  # the stale lock does not block
    go(last)
    _, err = last.communicate(timeout=120)
    assert last.returncode == 0, err
    assert intact_step(run_dir) == TOTAL
    assert kills >= 1  # at least one run died part-way
