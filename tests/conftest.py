"""Session fixtures: one local stack (provisioned from template.yaml) shared by the workflow tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from linkflow.local.process import LocalStackProcess, ProcessConfig, free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackProcess]:
    """`linkflow local up` in a child process (moto's backends are process-wide: an in-process
    ``mock_aws`` in a unit test would reset an in-process stack). Lambda output: <state>/lambda.log."""
    config = ProcessConfig(template=ROOT / "template.yaml", state_dir=tmp_path_factory.mktemp("state"),
                           aws_port=free_port(), stripe_port=free_port(), api_port=free_port(),
                           wait_time_scale=0.01)
    with LocalStackProcess(config) as running:
        yield running


@pytest.fixture
def clean_faults(stack: LocalStackProcess) -> Iterator[None]:
    """Every fault a test injects (AWS or Stripe) is gone when it ends."""
    yield
    stack.admin.clear_faults()
    stack.admin.clear_stripe_faults()
