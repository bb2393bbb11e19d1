"""Pure pieces of the local stack: intrinsic resolution, wait scaling, history parsing, env overlay."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from linkflow.local import environ, wait_scale
from linkflow.local.redrive import failed_state
from linkflow.local.template import Resolver, Template, TemplateError, load_template


def _resolver(params=None):
    t = Template(path=Path("t.yaml"), body={"Resources": {"Fn": {"Type": "AWS::Serverless::Function"}}},
                 parameters=params or {"Stage": "local"})
    return Resolver(t, pseudo={"AWS::Region": "us-east-1"}, ref=lambda n: f"name-of-{n}",
                    get_att=lambda n, a: f"{a}-of-{n}")


def test_resolver_handles_ref_sub_getatt_join():
    r = _resolver()
    assert r.resolve({"Ref": "Stage"}) == "local"
    assert r.resolve({"Fn::Sub": "x-${Stage}-${AWS::Region}-${Fn.Arn}"}) == "x-local-us-east-1-Arn-of-Fn"
    assert r.resolve({"Fn::Sub": ["${A}/${Stage}", {"A": {"Ref": "Fn"}}]}) == "name-of-Fn/local"
    assert r.resolve({"Fn::GetAtt": ["Fn", "Arn"]}) == "Arn-of-Fn"
    assert r.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-local"


def test_resolver_rejects_unsupported_intrinsics_naming_where():
    with pytest.raises(TemplateError, match="Resources.X.*Fn::If"):
        _resolver().resolve({"Fn::If": ["c", 1, 2]}, "Resources.X")


def test_load_template_requires_defaults_or_overrides(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("Parameters:\n  A: {Type: String}\nResources: {}\n")
    with pytest.raises(TemplateError, match="A has no Default"):
        load_template(path)
    assert load_template(path, {"A": "x"}).parameters == {"A": "x"}
    with pytest.raises(TemplateError, match="undeclared"):
        load_template(path, {"A": "x", "B": "y"})


def test_wait_scale_shortens_retrier_sleeps(monkeypatch):
    slept = []
    monkeypatch.setattr(wait_scale.time, "sleep", slept.append)
    previous = wait_scale.current()
    wait_scale.install(0.01)
    try:
        wait_scale._ScaledTime.sleep(4)
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        retrier_decl.time.sleep(2)
    finally:
        wait_scale._scale = previous
    assert slept == [pytest.approx(0.04), pytest.approx(0.02)]


def test_wait_scale_rejects_non_positive():
    with pytest.raises(ValueError):
        wait_scale.install(0)


def test_failed_state_is_the_last_state_entered_and_not_exited():
    events = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "A", "input": '{"a": 1}'}},
        {"type": "TaskStateExited", "stateExitedEventDetails": {"name": "A", "output": "{}"}},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "B", "input": '{"b": 2}'}},
        {"type": "ExecutionFailed"},
    ]
    assert failed_state(events) == ("B", {"b": 2})
    assert failed_state(events[:3]) == (None, None)


def test_env_overlay_is_per_thread():
    environ.install()
    os.environ["LINKFLOW_PROBE"] = "process"
    seen = {}
    with environ.overlay({"LINKFLOW_PROBE": "fn"}):
        seen["here"] = os.environ["LINKFLOW_PROBE"]
        t = threading.Thread(target=lambda: seen.setdefault("other", os.environ["LINKFLOW_PROBE"]))
        t.start()
        t.join()
    seen["after"] = os.environ["LINKFLOW_PROBE"]
    del os.environ["LINKFLOW_PROBE"]
    assert seen == {"here": "fn", "other": "process", "after": "process"}
