"""Optional: the ASL accepted by AWS's own engine, Step Functions Local, in a container.

Needs a Docker engine (testcontainers starts amazon/aws-stepfunctions-local). Everywhere else the
suite runs the ASL on the local stack's moto engine; this checks moto accepts nothing AWS would not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _docker_problem() -> str | None:
    try:
        import docker
    except ImportError:
        return "the docker Python package is not installed"
    try:
        docker.from_env().ping()
    except Exception as exc:  # any failure to reach the engine means: no engine here
        return f"no Docker engine reachable ({type(exc).__name__}: {str(exc)[:120]})"
    return None


_problem = _docker_problem()
pytestmark = pytest.mark.skipif(_problem is not None, reason=f"Step Functions Local needs Docker: {_problem}")


def _definitions() -> dict[str, str]:
    out = {}
    for path in sorted((ROOT / "statemachines").glob("*.asl.json")):
        text = path.read_text()
        for name in set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)):
            value = f"arn:aws:lambda:us-east-1:123456789012:function:{name}" if name.endswith("Arn") else name
            text = text.replace("${" + name + "}", value)
        out[path.name.removesuffix(".asl.json")] = text
    return out


def test_step_functions_local_accepts_every_state_machine():
    import boto3
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    with DockerContainer("amazon/aws-stepfunctions-local").with_exposed_ports(8083) as container:
        wait_for_logs(container, "Starting server", timeout=60)
        url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8083)}"
        sfn = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x")
        for name, definition in _definitions().items():
            json.loads(definition)
            arn = sfn.create_state_machine(name=name.replace("_", "-"), definition=definition,
                                           roleArn="arn:aws:iam::123456789012:role/DummyRole")["stateMachineArn"]
            assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "ACTIVE"
