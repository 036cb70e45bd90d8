"""Session fixtures: each real launch (about 3 s of start-up) is shared by every test
that compares against it, which keeps the distributed tests within a few minutes."""

from __future__ import annotations

import pytest
from distlaunch import COMMON_ARGS, Run, launch


@pytest.fixture(scope="session")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return launch("single", tmp_path_factory.mktemp("single"), COMMON_ARGS, nproc=None)


@pytest.fixture(scope="session")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return launch("ddp", tmp_path_factory.mktemp("ddp"), COMMON_ARGS)


@pytest.fixture(scope="session")
def fsdp_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return launch("fsdp", tmp_path_factory.mktemp("fsdp"), COMMON_ARGS)
