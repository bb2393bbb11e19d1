"""README.md's onboarding section says what
statemachines/onboarding.asl.json does: the per-state table names exactly its states, with their
types, retriers and catches, and the Mermaid flowchart draws exactly its transitions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from onboarding_support import ROOT, asl

DOC = ROOT / "README.md"
TABLE_HEADER = re.compile(r"^\|\s*State\s*\|\s*Type\s*\|", re.MULTILINE)
AWS_ALIAS = "AWS Lambda errors¹"
BACKTICKED = re.compile(r"`([^`]+)`")


def _pages() -> list[Path]:
    return [DOC]


def _state_table(page: Path) -> dict[str, list[str]]:
    """The per-state table's rows by state name (first column, backticks removed)."""
    text = page.read_text()
    header = TABLE_HEADER.search(text)
    assert header, f"{page.name} has no per-state table (a row starting `| State | Type |`)"
    rows: dict[str, list[str]] = {}
    for line in text[header.start():].splitlines()[2:]:  # header and separator
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        name = cells[0].strip("`")
        assert name not in rows, f"{name} listed twice in {page.name}"
        rows[name] = cells
    return rows


def _number(value: float) -> str:
    return str(int(value)) if float(value) == int(value) else str(value)


def _aws_errors() -> set[str]:
    """The retrier the page abbreviates: AWS's Lambda retrier errors (with States.Timeout)."""
    footnote = DOC.read_text().split("¹ AWS Lambda errors:", 1)
    assert len(footnote) == 2, "the footnote naming the AWS Lambda errors is missing"
    return set(BACKTICKED.findall(footnote[1].split("\n\n", 1)[0]))


def _retried(state: dict) -> list[str]:
    aws = _aws_errors()
    parts = []
    for retrier in state.get("Retry", []):
        errors = set(retrier["ErrorEquals"])
        names = AWS_ALIAS if errors == aws else ", ".join(f"`{e}`" for e in retrier["ErrorEquals"])
        parts.append(f"{names}: {_number(retrier['IntervalSeconds'])} s ×{_number(retrier['BackoffRate'])}, "
                     f"{retrier['MaxAttempts']} retries, max {retrier['MaxDelaySeconds']} s")
    return parts or ["—"]


def _caught(state: dict) -> set[tuple[str, str]]:
    return {(error, catch["Next"]) for catch in state.get("Catch", []) for error in catch["ErrorEquals"]}


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_the_state_table_names_exactly_the_states_of_the_machine(page):
    rows = _state_table(page)
    states = asl()["States"]
    assert set(rows) == set(states), (f"only in {page.name}: {sorted(set(rows) - set(states))}; "
                                      f"only in the ASL: {sorted(set(states) - set(rows))}")
    for name, cells in rows.items():
        assert cells[1] == states[name]["Type"], name


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_the_state_table_shows_each_states_retriers_and_catches(page):
    rows = _state_table(page)
    for name, state in asl()["States"].items():
        retried, caught = rows[name][2], rows[name][3]
        assert [part.strip() for part in retried.split(";")] == _retried(state), name
        pairs = set(re.findall(r"`([\w.]+)` → `(\w+)`", caught))
        assert pairs == _caught(state), name
        if not pairs:
            assert caught == "—", name


def test_every_abbreviated_retrier_is_exactly_the_aws_lambda_errors():
    aws = _aws_errors()
    assert aws == {"Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Lambda.AWSLambdaException",
                   "Lambda.SdkClientException", "Lambda.TooManyRequestsException", "States.Timeout"}
    for name, state in asl()["States"].items():
        for retrier in state.get("Retry", []):
            errors = set(retrier["ErrorEquals"])
            if any(e.startswith(("Lambda.", "States.")) for e in errors):
                assert errors == aws, f"{name} retries a partial AWS set the page would misreport: {errors}"


def _transitions() -> set[tuple[str, str, str]]:
    """``(from, label, to)`` of every ASL transition: Next (no label), Choice rules (their value,
    ``default``), Catch (the error)."""
    edges: set[tuple[str, str, str]] = set()
    for name, state in asl()["States"].items():
        if "Next" in state:
            edges.add((name, "", state["Next"]))
        for rule in state.get("Choices", []):
            edges.add((name, rule["StringEquals"], rule["Next"]))
        if "Default" in state:
            edges.add((name, "default", state["Default"]))
        for error, target in _caught(state):
            edges.add((name, error, target))
    return edges


def test_the_flowchart_draws_exactly_the_transitions_of_the_machine():
    block = re.search(r"```mermaid\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert block and block.group(1).startswith("flowchart"), "no Mermaid flowchart in README.md"
    edge = re.compile(r"^\s*(\w+)\s*(?:-->|-\.->)\s*(?:\|([^|]*)\|)?\s*(\w+)\s*$")
    drawn = {(m[1], m[2] or "", m[3]) for m in map(edge.match, block.group(1).splitlines()) if m}
    start = {e for e in drawn if e[0] == "PostConfirmation"}
    assert start == {("PostConfirmation", "", asl()["StartAt"])}
    assert drawn - start == _transitions()
    dotted = {(m[1], m[2]) for m in re.finditer(r"^\s*(\w+)\s*-\.->\s*\|[^|]*\|\s*(\w+)", block.group(1), re.M)}
    assert dotted == {(name, target) for name, state in asl()["States"].items() for _, target in _caught(state)}
