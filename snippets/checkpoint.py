"""Checkpoints that survive a crash and load without running any code.

A checkpoint is a directory ``RUN_DIR/checkpoints/step-00000040/`` holding

* ``model.safetensors``: the weights (safetensors stores raw tensors, never code);
* ``state.pt``: optimizer, scheduler, grad-scaler, position in the data and RNG states,
  made only of tensors and plain Python values so that ``torch.load(weights_only=True)``
  can read it (RNG states are stored as tensors, not as pickled NumPy objects);
* ``complete.json``: written last, it lists the size and SHA-256 of the other files.

Every file is written atomically: to a temporary name in the same directory, flushed
and ``fsync``-ed, then renamed over the final name with ``os.replace`` (a rename within
one file system is atomic), and the directory itself is ``fsync``-ed so the rename is on
disk.  A checkpoint counts only once ``complete.json`` is committed and its checksums
match, so a run killed half-way through a save, a truncated file or a flipped byte is
never chosen by ``latest_checkpoint``; ``load_checkpoint`` on such a directory, or on a
file that safe loading refuses (a pickle that would run code), raises
``CheckpointError`` naming the file.

Run ``python -m snippets.checkpoint RUN_DIR`` to list the checkpoints of a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import re
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_model
from torch import nn

WEIGHTS = "model.safetensors"
STATE = "state.pt"
MARKER = "complete.json"  # written last: its presence makes a checkpoint complete
STEP_DIR = re.compile(r"^step-(\d+)$")


class CheckpointError(Exception):
    """A checkpoint that is incomplete, corrupt, unsafe or made for another model."""


# --8<-- [start:atomic]
def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry (a rename) to disk; not possible on Windows."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Create ``path`` all at once: readers see the old file or the new one, never half.

    Args:
        path: the final file name.
        write: writes the content to the temporary path it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")  # same directory, same disk
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)  # atomic rename over the old file, if any
    finally:
        tmp.unlink(missing_ok=True)  # only left over if something above failed
    _fsync_dir(path.parent)
    return path


# --8<-- [end:atomic]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (checkpoints can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_weights(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model``'s state_dict to a safetensors file, atomically.

    Tied parameters (one tensor under two names) are stored once, as safetensors'
    ``save_model`` does.
    """
    return atomic_write(path, lambda tmp: save_model(model, str(tmp)))


def _check_keys(
    model: nn.Module, path: Path, names: dict[str, tuple[int, ...]]
) -> None:
    """Raise a CheckpointError naming every key that does not fit ``model``."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    loaded_ptrs = {
        v.data_ptr() for k, v in model.state_dict().items() if k in names and v.numel()
    }
    missing = [
        k
        for k, v in model.state_dict().items()
        if k not in names and v.data_ptr() not in loaded_ptrs  # tied weights are fine
    ]
    unexpected = [k for k in names if k not in expected]
    shapes = [
        f"{k}: {names[k]} in the file, {expected[k]} in the model"
        for k in names
        if k in expected and names[k] != expected[k]
    ]
    if not (missing or unexpected or shapes):
        return
    parts = [f"{path} does not fit {type(model).__name__}"]
    if missing:
        parts.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected keys: {', '.join(unexpected)}")
    if shapes:
        parts.append(f"shape mismatch: {'; '.join(shapes)}")
    if any(k.startswith("_orig_mod.") for k in unexpected):
        parts.append(
            "keys start with '_orig_mod.': they were saved from a torch.compile "
            "wrapper; "
            "save the original module (compiled._orig_mod) instead"
        )
    raise CheckpointError("; ".join(parts))


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a safetensors file into ``model`` after checking every key and shape."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            names = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({err})"
        ) from None
    _check_keys(model, path, names)
    model.load_state_dict(tensors, strict=False)  # strictness checked above
    return model


# --8<-- [start:safe_load]
def load_state(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> dict:
    """``torch.load`` with ``weights_only=True``: tensors and plain values only.

    The weights-only unpickler refuses any global it does not know, so a file whose
    unpickling would call a function (``os.system``, ``open``...) fails before that
    call happens.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as err:
        lines = [line for line in str(err).splitlines() if line.strip()] or [repr(err)]
        # torch's message starts with advice; the line naming the refused global is
        # the one that says what is wrong with this file
        reason = next((line for line in lines if "GLOBAL" in line), lines[0])
        raise CheckpointError(
            f"{path}: refused: not a safe, complete checkpoint file ({reason.strip()})"
        ) from None


# --8<-- [end:safe_load]


def capture_rng_state(loader_rng: torch.Tensor | None = None) -> dict[str, Any]:
    """Every RNG state a training step may draw from, as tensors and plain values.

    Args:
        loader_rng: state of the DataLoader's generator to store along (or None).
    """
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "python": torch.tensor(py_internal, dtype=torch.int64),  # 625 words < 2**32
        "python_version": py_version,
        "python_gauss": py_gauss,
        "numpy": torch.from_numpy(np_keys.astype(np.int64)),  # 624 words of MT19937
        "numpy_meta": [np_kind, int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
        "loader": loader_rng,
    }
    if torch.cuda.is_available():
        state["accelerator"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> torch.Tensor | None:
    """Undo ``capture_rng_state``; return the stored DataLoader generator state."""
    random.setstate(
        (
            state["python_version"],
            tuple(state["python"].tolist()),
            state["python_gauss"],
        )
    )
    kind, pos, has_gauss, gauss = state["numpy_meta"]
    keys = state["numpy"].numpy().astype(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "accelerator" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["accelerator"])
    return state["loader"]


# --8<-- [start:save]
def save_checkpoint(
    run_dir: str | os.PathLike,
    step: int,
    model: nn.Module,
    state: dict,
    keep_last: int = 2,
) -> Path:
    """Save weights and training state as ``run_dir/checkpoints/step-XXXXXXXX``.

    Files are written atomically, ``complete.json`` (sizes and SHA-256 of the others)
    last; only then is the checkpoint complete.  Older complete checkpoints beyond the
    newest ``keep_last`` are deleted afterwards, marker first.

    Args:
        run_dir: the run's directory.
        step: optimizer steps done; names the checkpoint.
        model: its state_dict goes to ``model.safetensors``.
        state: tensors and plain Python values only, for ``state.pt``.
        keep_last: complete checkpoints to keep (>= 1).
    """
    if keep_last < 1:
        raise ValueError(f"keep_last must be >= 1, got {keep_last}")
    directory = Path(run_dir) / "checkpoints" / f"step-{step:08d}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).unlink(
        missing_ok=True
    )  # rewriting: incomplete until re-marked
    save_weights(model, directory / WEIGHTS)
    atomic_write(directory / STATE, lambda tmp: torch.save(state, tmp))
    files = {
        name: {
            "bytes": (directory / name).stat().st_size,
            "sha256": sha256_file(directory / name),
        }
        for name in (WEIGHTS, STATE)
    }
    marker = json.dumps({"step": step, "files": files}, indent=1)
    atomic_write(directory / MARKER, lambda tmp: tmp.write_text(marker))  # the commit
    for old in list_checkpoints(run_dir)[:-keep_last]:
        if (old / MARKER).exists():
            (old / MARKER).unlink()  # a half-deleted checkpoint must not look complete
            shutil.rmtree(old)
    return directory


# --8<-- [end:save]


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Checkpoint directories of a run, complete or not, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in root.iterdir()
        if p.is_dir() and (m := STEP_DIR.match(p.name))
    ]
    return [p for _, p in sorted(found)]


def verify_checkpoint(directory: str | os.PathLike) -> None:
    """Raise a CheckpointError naming the file unless ``directory`` is intact."""
    directory = Path(directory)
    marker = directory / MARKER
    if not marker.is_file():
        raise CheckpointError(
            f"{marker} is missing: the checkpoint was never completed"
        )
    try:
        files = json.loads(marker.read_text())["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{marker}: unreadable ({err})") from None
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing")
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(
                f"{path} is truncated or altered: {size} bytes, "
                f"expected {expected['bytes']}"
            )
        if sha256_file(path) != expected["sha256"]:
            raise CheckpointError(
                f"{path} is corrupt: its SHA-256 does not match {marker}"
            )


# --8<-- [start:latest]
def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete, intact checkpoint of a run, or None if there is none.

    Incomplete or corrupt checkpoints are skipped with a warning that names them.
    """
    for directory in reversed(list_checkpoints(run_dir)):
        try:
            verify_checkpoint(directory)
        except CheckpointError as err:
            warnings.warn(f"skipping checkpoint: {err}", stacklevel=2)
            continue
        return directory
    return None


# --8<-- [end:latest]


def load_checkpoint(
    directory: str | os.PathLike,
    model: nn.Module,
    map_location: str | torch.device = "cpu",
) -> dict:
    """Verify a checkpoint, load its weights into ``model``, return its state dict."""
    directory = Path(directory)
    verify_checkpoint(directory)
    state = load_state(
        directory / STATE, map_location=map_location
    )  # before touching model
    load_weights(model, directory / WEIGHTS)
    return state


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m snippets.checkpoint RUN_DIR")
    for ckpt in list_checkpoints(sys.argv[1]):
        try:
            verify_checkpoint(ckpt)
            print(f"{ckpt}  complete")
        except CheckpointError as error:
            print(f"{ckpt}  NOT USABLE: {error}")
