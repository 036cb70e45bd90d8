"""snippets/bench/distributed.py: the report's shape and its checks (not the speed)."""

from __future__ import annotations

import json

import pytest

from snippets.bench import distributed as bench
from snippets.distributed.common import samples_per_second


def test_throughput_skips_the_warm_up_step() -> None:
    # 4 steps of 10 examples ending at t = 5, 6, 7, 8: the first (warm-up) step is out.
    assert samples_per_second([5.0, 6.0, 7.0, 8.0], global_batch=10) == 10.0
    assert samples_per_second([5.0], global_batch=10) == 0.0


def test_bad_arguments_are_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--nprocs", "0"])
    assert "--nprocs must be >= 1, got [0]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "0"])
    assert "--repeats must be >= 1, got 0" in capsys.readouterr().err


@pytest.mark.distributed
@pytest.mark.timeout(120)
def test_json_report_for_one_process(capsys) -> None:
    args = ["--nprocs", "1", "--steps", "3", "--repeats", "1", "--json"]
    assert bench.main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["benchmark"] == "distributed"
    (result,) = report["results"]
    assert result["nprocs"] == 1 and result["samples_per_s"] > 0
    assert result["speedup"] == 1.0 and result["efficiency"] == 1.0
