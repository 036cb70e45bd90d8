"""snippets/bench/train.py (a tiny configuration: the figures themselves are noise)"""

import json
import math

import pytest

from snippets.bench.train import main
from snippets.device import pick_device


def test_json_has_every_figure(capsys) -> None:
    assert main(["--json", "--batch-size", "16", "--steps", "2", "--no-compile"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reps"] == 7
    assert result["device"] == str(pick_device("auto"))  # whatever this machine has
    for key in ("step_ms", "samples_per_s", "bf16_speedup", "bf16_step_ms"):
        assert result[key] > 0, key
    for key in ("loop_overhead", "loop_overhead_with_clipping"):
        assert math.isfinite(result[key]) and result[key] > -1, key
    assert result["compile_speedup"] is None and result["torch"]


def test_too_few_repetitions_are_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--reps", "3"])
    assert (
        "--reps must be >= 7 for a meaningful median, got 3" in capsys.readouterr().err
    )
