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
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock, Timeout
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_model
from torch import nn

WEIGHTS = "model.safetensors"
STATE = "state.pt"
MARKER = "complete.json"  # written last: its presence makes a checkpoint complete
FORMAT = 1  # version of the marker's layout
LOCK = ".lock"  # held (flock) by the process that owns the run directory
OWNER = "owner.json"  # who holds the lock: named in the error a second run gets
STEP_DIR = re.compile(r"^step-(\d+)$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ABSENT = object()


class CheckpointError(Exception):
    """A checkpoint that is incomplete, corrupt, unsafe or made for another model."""


class RunDirError(Exception):
    """A run directory that cannot be used: not a directory, in use, or clobbered."""


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


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as strict JSON, atomically (via ``atomic_write``).

    ``allow_nan=False``: ``NaN`` and ``Infinity`` are not JSON (RFC 8259) and strict
    parsers reject them, so a non-finite float raises ``ValueError`` here, before
    anything is written, instead of producing a file other tools cannot read.

    Args:
        path: the final file name.
        obj: dicts, lists, strings, finite numbers, booleans and None.
    """
    text = json.dumps(obj, indent=1, allow_nan=False) + "\n"  # raises before writing
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


def read_json(path: str | os.PathLike) -> Any:
    """Parse a strict JSON file: ``NaN`` / ``Infinity`` are refused (``ValueError``)."""
    return json.loads(
        Path(path).read_text(encoding="utf-8"), parse_constant=_refuse_constant
    )


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


# safetensors' dtype names (the file header) -> torch dtypes
SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def _dtype_name(dtype: str | torch.dtype) -> str:
    """``float32`` for torch.float32 and for safetensors' ``F32``."""
    return str(SAFETENSORS_DTYPES.get(dtype, dtype)).removeprefix("torch.")


def _check_keys(
    model: nn.Module, path: Path, header: dict[str, tuple[tuple[int, ...], str]]
) -> None:
    """Raise a CheckpointError naming every key that does not fit ``model``.

    Args:
        header: name -> (shape, safetensors dtype name), read from the file's header.
    """
    own = model.state_dict()
    loaded_ptrs = {v.data_ptr() for k, v in own.items() if k in header and v.numel()}
    missing = [
        k
        for k, v in own.items()
        if k not in header and v.data_ptr() not in loaded_ptrs  # tied weights are fine
    ]
    unexpected = [k for k in header if k not in own]
    shapes = [
        f"{k}: {shape} in the file, {tuple(own[k].shape)} in the model"
        for k, (shape, _) in header.items()
        if k in own and shape != tuple(own[k].shape)
    ]
    # A silent cast would hide a file made for another precision (or a forged one).
    dtypes = [
        f"{k}: {_dtype_name(dtype)} in the file, {_dtype_name(own[k].dtype)} "
        "in the model"
        for k, (_, dtype) in header.items()
        if k in own and SAFETENSORS_DTYPES.get(dtype) != own[k].dtype
    ]
    if not (missing or unexpected or shapes or dtypes):
        return
    parts = [f"{path} does not fit {type(model).__name__}"]
    if missing:
        parts.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected keys: {', '.join(unexpected)}")
    if shapes:
        parts.append(f"shape mismatch: {'; '.join(shapes)}")
    if dtypes:
        parts.append(f"dtype mismatch: {'; '.join(dtypes)}")
    if any(k.startswith("_orig_mod.") for k in unexpected):
        parts.append(
            "keys start with '_orig_mod.': they were saved from a torch.compile "
            "wrapper; save the original module (compiled._orig_mod) instead"
        )
    raise CheckpointError("; ".join(parts))


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a safetensors file into ``model`` after checking every key, shape, dtype.

    The header is checked before any tensor is read, so a file made for another model
    (or with an absurd header) costs no memory and leaves ``model`` untouched.
    """
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = {
                k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype())
                for k in f.keys()  # noqa: SIM118 (safe_open is not a dict)
            }
            _check_keys(model, path, header)
            tensors = {k: f.get_tensor(k) for k in header}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({err})"
        ) from None
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


# --8<-- [start:commit]
def commit_checkpoint(
    directory: str | os.PathLike, files: Iterable[str], meta: Mapping[str, Any]
) -> dict:
    """Mark the files of a checkpoint complete: write ``complete.json`` last.

    The marker lists the size and SHA-256 of every file, so ``verify_checkpoint`` can
    tell a complete checkpoint from a half-written, truncated or altered one.

    Args:
        directory: the checkpoint's directory; the files are already written in it.
        files: their paths relative to ``directory`` (subfolders allowed, e.g. shards).
        meta: JSON-safe facts about the checkpoint (step, config...), stored as is.

    Returns:
        The marker as written (what ``verify_checkpoint`` returns).
    """
    directory = Path(directory)
    names = sorted(set(files))
    if not names:
        raise ValueError(f"commit_checkpoint({directory}): no files to commit")
    marker: dict[str, Any] = {"format": FORMAT, "files": {}, "meta": dict(meta)}
    for name in names:
        _check_relative(directory, name)
        path = directory / name
        marker["files"][name] = {
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }
    write_json(directory / MARKER, marker)  # the commit: all or nothing
    return marker
    # --8<-- [end:commit]


def _check_relative(directory: Path, name: object) -> None:
    """A marker may only name files inside its own checkpoint directory."""
    if not isinstance(name, str) or not name:
        raise CheckpointError(f"{directory / MARKER}: malformed: file name {name!r}")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise CheckpointError(
            f"{directory / MARKER}: malformed: {name!r} points outside {directory}"
        )


def _check_marker(marker: Path, info: Any) -> dict:
    """Raise a CheckpointError unless ``info`` is what ``commit_checkpoint`` writes."""

    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{marker}: malformed: {why}")

    if not isinstance(info, dict):
        raise bad(f"expected a JSON object, got {type(info).__name__}")
    if info.get("format") != FORMAT:
        raise bad(f"format {info.get('format')!r}, expected {FORMAT}")
    files, meta = info.get("files"), info.get("meta")
    if not isinstance(files, dict) or not files:
        raise bad(f"'files' must be a non-empty object, got {files!r}")
    if not isinstance(meta, dict):
        raise bad(f"'meta' must be an object, got {meta!r}")
    for name, entry in files.items():
        _check_relative(marker.parent, name)
        size = entry.get("bytes") if isinstance(entry, dict) else None
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if type(size) is not int or size < 0:
            raise bad(f"{name}: 'bytes' must be an integer >= 0, got {size!r}")
        if not isinstance(digest, str) or not SHA256.match(digest):
            raise bad(f"{name}: 'sha256' must be 64 hex digits, got {digest!r}")
    return info


# --8<-- [start:verify]
def verify_checkpoint(directory: str | os.PathLike) -> dict:
    """Return the marker of an intact checkpoint; else raise a CheckpointError.

    Intact: ``complete.json`` exists, is well formed, and every file it lists has the
    recorded size and SHA-256.  The error names the file at fault.
    """
    directory = Path(directory)
    marker = directory / MARKER
    if not marker.is_file():
        raise CheckpointError(
            f"{marker} is missing: the checkpoint was never completed"
        )
    try:
        info = _check_marker(marker, read_json(marker))
    except (OSError, UnicodeDecodeError, ValueError) as err:  # JSONDecodeError too
        raise CheckpointError(f"{marker}: unreadable ({err})") from None
    for name, expected in info["files"].items():
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
    return info
    # --8<-- [end:verify]


def require_same_config(
    saved: Mapping[str, Any], current: Mapping[str, Any], where: str
) -> None:
    """Raise a CheckpointError naming every field in which two configs differ.

    Args:
        saved: the config stored with a checkpoint.
        current: the config of the run that wants to continue it.
        where: what the saved config belongs to (a checkpoint path), for the message.
    """
    # compare as JSON stores them: a tuple comes back as a list, 1.0 stays 1.0
    saved, current = (json.loads(json.dumps(dict(c))) for c in (saved, current))

    def shown(config: dict, key: str) -> str:
        return repr(config[key]) if key in config else "(absent)"

    diffs = [
        f"{key}: saved {shown(saved, key)}, given {shown(current, key)}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key, _ABSENT) != current.get(key, _ABSENT)
    ]
    if diffs:
        raise CheckpointError(
            f"{where} was made with other settings ({'; '.join(diffs)}); "
            "resume with the same settings, or start a new run in another directory"
        )


# --8<-- [start:save]
def save_checkpoint(
    run_dir: str | os.PathLike,
    step: int,
    model: nn.Module,
    state: dict,
    keep_last: int = 2,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Save weights and training state as ``run_dir/checkpoints/step-XXXXXXXX``.

    Files are written atomically, ``complete.json`` (sizes and SHA-256 of the others)
    last; only then is the checkpoint complete.  Then ``prune_checkpoints`` keeps
    the newest ``keep_last`` intact ones.

    Args:
        run_dir: the run's directory.
        step: optimizer steps done; names the checkpoint.
        model: its state_dict goes to ``model.safetensors``.
        state: tensors and plain Python values only, for ``state.pt``.
        keep_last: intact checkpoints to keep (>= 1).
        meta: JSON-safe facts stored in ``complete.json`` (``step`` is added).
    """
    if keep_last < 1:
        raise ValueError(f"keep_last must be >= 1, got {keep_last}")
    directory = Path(run_dir) / "checkpoints" / f"step-{step:08d}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).unlink(missing_ok=True)  # rewriting: incomplete until marked
    save_weights(model, directory / WEIGHTS)
    atomic_write(directory / STATE, lambda tmp: torch.save(state, tmp))
    commit_checkpoint(directory, [WEIGHTS, STATE], {**(meta or {}), "step": step})
    prune_checkpoints(run_dir, keep_last)
    return directory
    # --8<-- [end:save]


def prune_checkpoints(run_dir: str | os.PathLike, keep_last: int) -> None:
    """Delete every checkpoint older than the newest ``keep_last`` intact ones.

    Counting only intact checkpoints means a corrupt newer one never pushes the last
    good one out.  A checkpoint loses its marker first, so one whose deletion is cut
    short by a crash is incomplete, never mistaken for complete.
    """
    kept = 0
    for directory in reversed(list_checkpoints(run_dir)):
        if kept >= keep_last:
            (directory / MARKER).unlink(missing_ok=True)
            shutil.rmtree(directory, ignore_errors=True)
            continue
        try:
            verify_checkpoint(directory)
            kept += 1
        except CheckpointError:
            pass  # newer than the kept ones: left for inspection, skipped on resume


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


def intact_checkpoints(run_dir: str | os.PathLike) -> Iterator[tuple[Path, dict]]:
    """Yield ``(directory, marker)`` of intact checkpoints, newest first.

    Incomplete, corrupt or malformed ones are skipped with a warning naming them.
    """
    for directory in reversed(list_checkpoints(run_dir)):
        try:
            marker = verify_checkpoint(directory)
        except CheckpointError as err:
            warnings.warn(f"skipping checkpoint: {err}", stacklevel=3)
            continue
        yield directory, marker


# --8<-- [start:latest]
def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete, intact checkpoint of a run, or None if there is none.

    Incomplete, corrupt or malformed checkpoints are skipped with a warning that names
    them.
    """
    for directory, _ in intact_checkpoints(run_dir):
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


def _check_run_dir_path(run_dir: Path, resume: bool) -> None:
    """Refuse a run directory that cannot work, before anything is created."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"run dir {run_dir} is a file, not a directory")
    ancestor = run_dir.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise RunDirError(
            f"cannot create run dir {run_dir}: {ancestor} is a file, not a directory"
        )
    if resume and not run_dir.exists():
        raise RunDirError(
            f"nothing to resume: run dir {run_dir} does not exist; "
            "start a fresh run without resume"
        )


def _holder(run_dir: Path, wait_s: float = 2.0) -> str:
    """Who holds the run directory, as its owner file says.

    The holder writes that file just after taking the lock, so for a moment it may be
    missing or still name a killed earlier run: wait briefly for a live owner.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            owner = read_json(run_dir / OWNER)
            said = (
                f"pid {owner['pid']} on {owner['host']}, since {owner['since']}: "
                f"{owner['command']}"
            )
            live = owner["host"] != socket.gethostname() or _alive(owner["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            said, live = "a process that has not written its owner file yet", False
        if live or time.monotonic() > deadline:
            return said
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to another user
        return True
    return True


_HELD: dict[Path, int] = {}  # run directories this process holds, with a depth


# --8<-- [start:claim]
@contextmanager
def claim_run_dir(run_dir: str | os.PathLike, resume: bool) -> Iterator[Path]:
    """Own ``run_dir`` while the block runs; check it fits a fresh run or a resume.

    A lock file held with ``flock`` (via ``filelock``) makes one process at a time the
    owner; the kernel drops the lock when its process dies, so a run killed with
    SIGKILL leaves nothing that blocks a resume.  Claims nest within one process.

    Args:
        run_dir: the run's directory; created if missing (not when resuming).
        resume: True to continue the newest intact checkpoint (one must exist);
            False for a fresh run (refused if the directory holds checkpoints).
    """
    path = Path(run_dir).absolute()
    if path in _HELD:  # this process already owns it: nest
        _HELD[path] += 1
        try:
            yield Path(run_dir)
        finally:
            _HELD[path] -= 1
        return
    run_dir = Path(run_dir)
    _check_run_dir_path(run_dir, resume)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(run_dir / LOCK, timeout=0)
        lock.acquire()
    except Timeout:
        raise RunDirError(
            f"run dir {run_dir} is in use by another run ({_holder(run_dir)}); "
            "wait for it to end or choose another run dir"
        ) from None
    except OSError as err:  # read-only file system, permissions...
        raise RunDirError(f"cannot use run dir {run_dir}: {err}") from None
    _HELD[path] = 1
    try:
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(sys.argv),
        }
        write_json(run_dir / OWNER, owner)
        newest = latest_checkpoint(run_dir)
        if resume and newest is None:
            raise RunDirError(
                f"nothing to resume: no complete checkpoint in {run_dir}; "
                "start a fresh run without resume"
            )
        if not resume and newest is not None:
            raise RunDirError(
                f"{run_dir} already holds checkpoints (newest: {newest.name}); "
                "resume to continue that run, or choose another run dir"
            )
        yield run_dir
    finally:
        del _HELD[path]
        (run_dir / OWNER).unlink(missing_ok=True)
        lock.release()
        # --8<-- [end:claim]


# --8<-- [start:training_state]
class TrainingState:
    """Everything the next training step depends on, saved and restored together.

    A checkpoint holds the weights, each ``stateful`` object's ``state_dict()``
    (optimizer, scheduler, grad scaler), the run's progress (plain values), every RNG
    state and the loader generator's state; ``complete.json`` keeps ``config``.

    Args:
        run_dir: the run's directory (claim it first: ``claim_run_dir``).
        model: its weights go to ``model.safetensors``.
        stateful: objects with ``state_dict()`` / ``load_state_dict()``.
        config: JSON-safe settings that decide the result; a resume must match them.
        keep_last: intact checkpoints to keep.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike,
        model: nn.Module,
        stateful: Mapping[str, Any],
        config: Mapping[str, Any],
        keep_last: int = 2,
    ) -> None:
        self.run_dir, self.model, self.stateful = run_dir, model, stateful
        self.config, self.keep_last = dict(config), keep_last

    def save(
        self, progress: Mapping[str, Any], loader_rng: torch.Tensor | None
    ) -> Path:
        """Checkpoint now, named by ``progress["step"]``; ``loader_rng``: the loader
        generator's state from which the current epoch's order is drawn."""
        state = {name: obj.state_dict() for name, obj in self.stateful.items()}
        state.update(progress=dict(progress), rng=capture_rng_state(loader_rng))
        return save_checkpoint(
            self.run_dir,
            progress["step"],
            self.model,
            state,
            self.keep_last,
            meta={"config": self.config},
        )

    def restore(
        self,
        make_progress: Callable[..., Any] = dict,
        map_location: str | torch.device = "cpu",
    ) -> tuple[Any, torch.Tensor | None]:
        """Load the newest usable checkpoint; return ``(progress, loader_rng)``.

        A checkpoint whose files are intact but whose content is wrong (other shapes
        or dtypes, a refused pickle, missing entries: ``make_progress(**saved)``
        refuses unknown fields) is skipped with a warning, and the next older one is
        tried.  Other settings than ``config`` are an error: not the same run.
        """
        for directory, marker in intact_checkpoints(self.run_dir):
            saved = marker["meta"].get("config", {})
            require_same_config(saved, self.config, str(directory))
            try:
                state = load_state(directory / STATE, map_location=map_location)
                load_weights(self.model, directory / WEIGHTS)
                progress = make_progress(**state["progress"])
                for name, obj in self.stateful.items():
                    obj.load_state_dict(state[name])
                return progress, restore_rng_state(state["rng"])
            except (
                CheckpointError,
                KeyError,
                TypeError,
                ValueError,
                RuntimeError,
            ) as e:
                name = type(e).__name__
                warnings.warn(f"skipping {directory}: {name}: {e}", stacklevel=2)
        raise CheckpointError(f"no usable checkpoint in {self.run_dir}")
        # --8<-- [end:training_state]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m snippets.checkpoint RUN_DIR")
    for ckpt in list_checkpoints(sys.argv[1]):
        try:
            step = verify_checkpoint(ckpt)["meta"].get("step")
            print(f"{ckpt}  complete (step {step})")
        except CheckpointError as error:
            print(f"{ckpt}  NOT USABLE: {error}")
