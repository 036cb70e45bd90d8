"""Session fixtures: each real launch (seconds of start-up) is shared by every test
that compares against it, which keeps the distributed tests short."""

from __future__ import annotations

import pytest

from snippets.distributed import single

from .distlaunch import COMMON_ARGS, Run, in_process, launch


@pytest.fixture(scope="session")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("single")
    in_process(single.main, out, COMMON_ARGS)
    return Run(out)


@pytest.fixture(scope="session")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return launch("ddp", tmp_path_factory.mktemp("ddp"), COMMON_ARGS)


@pytest.fixture(scope="session")
def fsdp_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return launch("fsdp", tmp_path_factory.mktemp("fsdp"), COMMON_ARGS)
