"""``linkflow executions show <x> --graph``: the machine drawn with a real failed-then-redriven
execution's path (Mermaid on stdout with ``-``, SVG through Graphviz)."""

from __future__ import annotations

import shutil

import pytest
from support import confirm, sign_up, stripe_admin, unique_email, wait_for_execution
from test_ops_cli import linkflow


@pytest.fixture
def redriven(stack, clean_faults) -> str:
    """An onboarding that failed at CreateStripeCustomer (a Stripe outage) and was redriven to success."""
    stripe_admin(stack, "POST", "faults", {"method": "POST", "path": "/v1/customers", "status": 503, "count": 50})
    sub = sign_up(stack, unique_email("graph"))
    confirm(stack, sub)
    sfn = stack.client("stepfunctions")
    arn = stack.info["outputs"]["OnboardingStateMachineArn"].replace(":stateMachine:", ":execution:") + f":{sub}"
    assert wait_for_execution(sfn, arn, timeout=60)["status"] == "FAILED"
    stripe_admin(stack, "DELETE", "faults")
    sfn.redrive_execution(executionArn=arn)
    assert wait_for_execution(sfn, arn, timeout=60)["status"] == "SUCCEEDED"
    return sub


def test_the_graph_shows_the_path_the_retries_and_where_the_redrive_resumed(stack, redriven, tmp_path):
    text = linkflow(stack, "executions", "show", redriven, "--graph", "-")
    assert text.returncode == 0, text.stderr
    mermaid = text.stdout
    assert mermaid.startswith("flowchart TD")
    assert "CreateStripeCustomer (" in mermaid and "retries" in mermaid and "redrive resumed here" in mermaid
    assert "FAILED here" in mermaid, "the state the first run failed at stays marked after the redrive"
    assert "WriteProfile ==> InitEntitlement" in mermaid, "the path taken is drawn bold"
    assert "style OnboardingComplete fill:#d1e7dd" in mermaid

    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz; .ci/run installs it)")
    svg = tmp_path / "run.svg"
    drawn = linkflow(stack, "executions", "show", redriven, "--graph", str(svg))
    assert drawn.returncode == 0, drawn.stderr
    body = svg.read_text()
    assert body.lstrip().startswith(("<?xml", "<svg")) and "CreateStripeCustomer" in body
    bad = linkflow(stack, "executions", "show", redriven, "--graph", str(tmp_path / "run.gif"))
    assert bad.returncode == 2 and ".svg or .png" in bad.stderr
