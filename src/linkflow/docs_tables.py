"""The per-state tables and flowcharts of docs/, generated from the ASL.

``python -m linkflow.docs_tables`` rewrites, in each machine's page, what stands between
``<!-- BEGIN states: <machine> -->`` / ``<!-- END states -->`` (one row per state: type, the
state's ``Comment``, retriers, catchers, timeout, transitions) and between
``<!-- BEGIN flowchart: <machine> -->`` / ``<!-- END flowchart -->`` (a Mermaid flowchart of every
transition). ``--check`` rewrites nothing and exits 1 naming each page that differs, so a change
to a state machine cannot leave its page behind. What a state does is written once, in the ASL.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m linkflow.docs_tables"

# AWS's recommended Lambda retrier plus the timeouts (the function's own, the state's): abbreviated
# in the tables, named in a note.
AWS_LAMBDA_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Sandbox.Timedout",
    "States.Timeout",
)
AWS_ALIAS = "AWS Lambda errors¹"
COMPARATORS = ("StringEquals", "BooleanEquals", "NumericEquals", "IsPresent", "IsNull", "StringMatches")

State = dict[str, Any]


@dataclass(frozen=True)
class Machine:
    """One state machine and the page that documents it (paths relative to the repository)."""

    name: str
    asl: str
    page: str
    start: str  # what starts an execution: the flowchart's first node

    def definition(self, root: Path) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((root / self.asl).read_text())
        return loaded


MACHINES = (
    Machine("onboarding", "statemachines/onboarding.asl.json", "docs/onboarding.md",
            "PostConfirmation_ConfirmSignUp"),
    Machine("subscription-events", "statemachines/subscription_events.asl.json", "docs/subscription-events.md",
            "Stripe webhook: StartExecution"),
    Machine("reconcile", "statemachines/reconcile.asl.json", "docs/reconcile.md",
            "Scheduler or linkflow reconcile run: StartExecution"),
)


def _code(name: str) -> str:
    return f"`{name}`"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _number(value: float) -> str:
    return str(int(value)) if float(value) == int(value) else str(value)


def _errors(names: Sequence[str]) -> str:
    if set(names) == set(AWS_LAMBDA_ERRORS):
        return AWS_ALIAS
    return ", ".join(_code(n) for n in names)


def _retrier(retrier: State) -> str:
    delay = f"{_number(retrier.get('IntervalSeconds', 1))} s ×{_number(retrier.get('BackoffRate', 2))}"
    if "MaxDelaySeconds" in retrier:
        delay += f", max {retrier['MaxDelaySeconds']} s"
    if retrier.get("JitterStrategy", "NONE") != "FULL":
        delay += ", no jitter"
    return f"{_errors(retrier['ErrorEquals'])}: {retrier.get('MaxAttempts', 3)} retries ({delay})"


def _catcher(catcher: State) -> str:
    kept = f" (error at `{catcher['ResultPath']}`)" if catcher.get("ResultPath") else ""
    return f"{_errors(catcher['ErrorEquals'])} → {_code(catcher['Next'])}{kept}"


def rule_label(rule: State) -> str:
    """A Choice rule in a few words: the value compared (``claimed``), else ``field op value``."""
    if "StringEquals" in rule:
        return str(rule["StringEquals"])
    for op in COMPARATORS:
        if op in rule:
            field = str(rule.get("Variable", "")).rsplit(".", 1)[-1]
            verb = "=" if op.endswith("Equals") else op
            return f"{field} {verb} {json.dumps(rule[op])}"
    return "compound rule"


def _next(state: State) -> str:
    kind = state["Type"]
    if kind == "Succeed":
        return "succeeds"
    if kind == "Fail":
        return f"fails with {_code(state.get('Error', 'States.Fail'))}"
    if kind == "Choice":
        routes = [f"{_code(rule_label(rule))} → {_code(rule['Next'])}" for rule in state.get("Choices", [])]
        if "Default" in state:
            routes.append(f"otherwise → {_code(state['Default'])}")
        else:
            routes.append("otherwise fails with `States.NoChoiceMatched`")
        return "; ".join(routes)
    return _code(state["Next"]) if "Next" in state else "ends"


def _row(name: str, state: State) -> str:
    cells = [
        _code(name),
        state["Type"],
        _cell(state.get("Comment", "—")),
        "; ".join(_retrier(r) for r in state.get("Retry", [])) or "—",
        "; ".join(_catcher(c) for c in state.get("Catch", [])) or "—",
        f"{state['TimeoutSeconds']} s" if "TimeoutSeconds" in state else "—",
        _next(state),
    ]
    return "| " + " | ".join(cells) + " |"


def states_table(machine: Machine, root: Path = ROOT) -> str:
    """The per-state table of ``machine``, with the notes its abbreviations need."""
    states: dict[str, State] = machine.definition(root)["States"]
    retriers = [r for s in states.values() for r in s.get("Retry", [])]
    lines = [
        f"Generated from [{machine.asl}](../{machine.asl}) by `{COMMAND}`: change the ASL (a state's",
        "`Comment` says what it does), then run the command. \"retries\" counts attempts after the first",
        "(ASL `MaxAttempts`); the delay before retry *n* is interval × backoff<sup>n-1</sup>, capped.",
        "",
        "| state | type | what it does | errors retried | errors caught | timeout | next |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(_row(name, state) for name, state in states.items()),
    ]
    if retriers and all(r.get("JitterStrategy") == "FULL" for r in retriers):
        lines += ["", "Every retrier has `JitterStrategy: FULL`."]
    if any(set(r["ErrorEquals"]) == set(AWS_LAMBDA_ERRORS) for r in retriers):
        lines += ["", "¹ AWS Lambda errors: " + ", ".join(_code(e) for e in AWS_LAMBDA_ERRORS)
                  + " (AWS's recommended Lambda retrier, plus the function's and the task's timeouts)."]
    return "\n".join(lines)


def transitions(definition: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """``(from, label, to, caught)`` of every transition: Next, Choice rules and Default, Catch."""
    edges: list[tuple[str, str, str, bool]] = []
    for name, state in definition["States"].items():
        if "Next" in state:
            edges.append((name, "", state["Next"], False))
        for rule in state.get("Choices", []):
            edges.append((name, rule_label(rule), rule["Next"], False))
        if "Default" in state:
            edges.append((name, "otherwise", state["Default"], False))
        for catcher in state.get("Catch", []):
            for error in catcher["ErrorEquals"]:
                edges.append((name, error, catcher["Next"], True))
    return edges


def _node(name: str, state: State) -> str | None:
    kind = state["Type"]
    if kind == "Choice":
        return f"    {name}{{{name}}}"
    if kind == "Succeed":
        return f"    {name}([{name}])"
    if kind == "Fail":
        return f'    {name}[["{name} (Fail: {state.get("Error", "States.Fail")})"]]'
    return None


def flowchart(machine: Machine, root: Path = ROOT) -> str:
    """A Mermaid flowchart: solid arrows are transitions (labelled from a Choice), dotted a Catch."""
    definition = machine.definition(root)
    nodes = [f"    Start([{machine.start}])"]
    nodes += [n for name, state in definition["States"].items() if (n := _node(name, state))]
    arrows = [f"    Start --> {definition['StartAt']}"]
    for source, label, target, caught in transitions(definition):
        arrow = "-.->" if caught else "-->"
        arrows.append(f"    {source} {arrow}{f'|{label}|' if label else ''} {target}")
    return "\n".join(["```mermaid", "flowchart TD", *nodes, *arrows, "```"])


def _block(kind: str, machine: Machine) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN {kind}: {re.escape(machine.name)} -->\n)(.*?)(<!-- END {kind} -->)", re.DOTALL)


def rewrite(text: str, machine: Machine, root: Path = ROOT) -> str:
    """``text`` with ``machine``'s generated blocks replaced; ValueError if a marker pair is missing."""
    for kind, body in (("states", states_table(machine, root)), ("flowchart", flowchart(machine, root))):
        match = _block(kind, machine).search(text)
        if match is None:
            raise ValueError(f"no <!-- BEGIN {kind}: {machine.name} --> ... <!-- END {kind} --> block")
        text = text[: match.start(2)] + body + "\n" + text[match.end(2) :]
    return text


CODE_MAP_PAGE = "README.md"
_CODE_MAP = re.compile(r"(<!-- BEGIN code map -->\n)(.*?)(<!-- END code map -->)", re.DOTALL)


def _step_module(root: Path, step: str) -> str:
    """The shared-layer module that defines the step function ``step``."""
    layer = root / "functions" / "shared"
    for path in sorted((layer / "linkflow_shared").rglob("*.py")):
        if re.search(rf"^def {re.escape(step)}\(", path.read_text(), re.MULTILINE):
            return path.relative_to(root).as_posix()
    raise ValueError(f"no step {step}() in functions/shared/linkflow_shared")


def code_map(root: Path = ROOT) -> str:
    """One row per function of template.yaml: what invokes it (its ASL state, or the trigger or
    route), its folder, and the step its handler calls, named as the folder."""
    from cfn_tools import load_yaml  # type: ignore[import-untyped]  # cfn-flip ships no types

    resources: dict[str, Any] = load_yaml((root / "template.yaml").read_text())["Resources"]
    states: dict[str, str] = {}
    for machine in MACHINES:
        for name, state in _all_states(machine.definition(root)["States"]):
            if state["Type"] == "Task":
                states[f"{name}Function"] = f"{machine.name}: `{name}`"
    rows = ["| invoked by | function folder | step |", "| --- | --- | --- |"]
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        folder = resource["Properties"]["CodeUri"].strip("/")
        step = folder.split("/")[-1]
        invoker = states.get(logical_id) or _invoker(logical_id, resource)
        module = _step_module(root, step)
        rows.append(f"| {invoker} | [{folder}/]({folder}/app.py) | [`{step}`]({module}) |")
    return "\n".join(rows)


def _all_states(states: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every state, those inside Parallel branches and Map processors too."""
    found: list[tuple[str, Any]] = []
    for name, state in states.items():
        found.append((name, state))
        for branch in state.get("Branches", []):
            found.extend(_all_states(branch["States"]))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found.extend(_all_states(processor["States"]))
    return found


def _invoker(logical_id: str, resource: dict[str, Any]) -> str:
    for event in (resource["Properties"].get("Events") or {}).values():
        props = event.get("Properties") or {}
        if event.get("Type") == "HttpApi":
            return f"HTTP API: `{props['Method']} {props['Path']}`"
        if event.get("Type") == "SQS":
            queue = props.get("Queue")
            name = queue["Fn::GetAtt"][0] if isinstance(queue, dict) and "Fn::GetAtt" in queue else queue
            return f"SQS: `{name}`"
    return f"Cognito trigger: `{logical_id.removesuffix('Function')}`"


def rewrite_code_map(text: str, root: Path = ROOT) -> str:
    match = _CODE_MAP.search(text)
    if match is None:
        raise ValueError("no <!-- BEGIN code map --> ... <!-- END code map --> block")
    return text[: match.start(2)] + code_map(root) + "\n" + text[match.end(2) :]


def stale_pages(root: Path = ROOT) -> list[str]:
    """``page: reason`` for each page whose generated blocks differ from the ASL (empty: all current)."""
    stale = []
    readme = root / CODE_MAP_PAGE
    text = readme.read_text() if readme.is_file() else ""
    try:
        if rewrite_code_map(text, root) != text:
            stale.append(f"{CODE_MAP_PAGE}: its code map differs from template.yaml and the ASL")
    except ValueError as exc:
        stale.append(f"{CODE_MAP_PAGE}: {exc}")
    for machine in MACHINES:
        page = root / machine.page
        if not page.is_file():
            stale.append(f"{machine.page}: missing")
            continue
        text = page.read_text()
        try:
            if rewrite(text, machine, root) != text:
                stale.append(f"{machine.page}: differs from {machine.asl}")
        except ValueError as exc:
            stale.append(f"{machine.page}: {exc}")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 naming each stale page")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    root: Path = args.root
    if args.check:
        stale = stale_pages(root)
        for line in stale:
            print(f"stale: {line} (run `{COMMAND}`)", file=sys.stderr)
        return 1 if stale else 0
    pages: list[tuple[Path, str, Callable[[str], str]]] = [
        (root / CODE_MAP_PAGE, CODE_MAP_PAGE, partial(rewrite_code_map, root=root))
    ]
    pages += [(root / m.page, m.page, partial(rewrite, machine=m, root=root)) for m in MACHINES]
    for page, shown, update in pages:
        try:
            text = page.read_text()
            updated = update(text)
        except (OSError, ValueError) as exc:
            print(f"error: {shown}: {exc}", file=sys.stderr)
            return 1
        if updated != text:
            page.write_text(updated)
            print(f"rewrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
