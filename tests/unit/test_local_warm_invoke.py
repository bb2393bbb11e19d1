"""An invocation awaited on the API server's event loop (``ProcessRuntime.invoke_warm``, used by the
API gateway for a remembered token and an idle warm worker): the same answers, logs and counts as
``invoke`` on a thread, and everything it cannot do without blocking left to ``invoke``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_local_workers import function, registered

from linkflow.local import api_gateway
from linkflow.local.api_gateway import HttpRoute, build_app
from linkflow.local.lambda_runtime import HandlerFault
from linkflow.local.runtime import ProcessRuntime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[ProcessRuntime]:
    rt = ProcessRuntime(tmp_path / "logs")
    yield rt
    rt.close()


def _run(pending: Awaitable[Any] | None) -> Any:
    assert pending is not None

    async def awaited() -> Any:
        return await pending

    return asyncio.run(awaited())


def _warm(runtime: ProcessRuntime, name: str, event: dict[str, Any]) -> Any:
    """``invoke_warm`` called and awaited on a loop of its own."""

    async def call() -> Any:
        pending = runtime.invoke_warm(name, event)
        return None if pending is None else await pending

    return asyncio.run(call())


def test_an_idle_warm_worker_answers_on_the_loop_as_on_a_thread(runtime: ProcessRuntime, tmp_path: Path) -> None:
    spec = registered(runtime, function(tmp_path, "echo"))
    assert _warm(runtime, spec.name, {"say": "cold"}) is None  # no worker yet: a thread starts one
    cold, errored = runtime.invoke(spec.name, {"say": "cold"})
    assert not errored and runtime.invocations[spec.name] == 1
    result, errored = _warm(runtime, spec.arn, {"say": "warm"})
    assert not errored and result["echo"] == "warm" and result["pid"] == cold["pid"]
    error, errored = _warm(runtime, spec.name, {"action": "raise"})
    assert errored and (error["errorType"], error["errorMessage"]) == ("PaymentDeclined", "card declined")
    assert runtime.invocations[spec.name] == 3 and runtime.cold_starts[spec.name] == 1
    lines = list(runtime.log_lines(spec.name))
    assert sum(line.startswith("REPORT RequestId: ") for line in lines) == 3
    assert "handling warm" in lines
    assert [w.busy for w in runtime.workers(spec.name)] == [False]  # released


def test_faults_throttles_busy_workers_and_a_stopping_runtime_are_left_to_invoke(
        runtime: ProcessRuntime, tmp_path: Path) -> None:
    spec = registered(runtime, function(tmp_path, "guarded", reserved_concurrency=0))
    assert _warm(runtime, spec.name, {}) is None
    spec = registered(runtime, function(tmp_path, "faulty"))
    runtime.invoke(spec.name, {})
    runtime.inject(spec.name, HandlerFault(count=1))
    assert _warm(runtime, spec.name, {}) is None and runtime.invocations[spec.name] == 1  # not counted twice
    assert runtime.invoke(spec.name, {})[1] is True  # the fault, answered by invoke
    assert _warm(runtime, spec.name, {"say": "after"})[0]["echo"] == "after"

    async def two_at_once() -> list[Any]:
        first = runtime.invoke_warm(spec.name, {"say": "first"})
        second = runtime.invoke_warm(spec.name, {"say": "second"})  # its only worker is busy now
        assert first is not None and second is None
        return [await first]

    assert _run(two_at_once())[0][0]["echo"] == "first"
    runtime.close()
    assert _warm(runtime, spec.name, {}) is None


def test_a_timeout_on_the_loop_kills_the_worker_and_answers_lambdas_error(
        runtime: ProcessRuntime, tmp_path: Path) -> None:
    spec = registered(runtime, function(tmp_path, "slow", timeout=1))
    runtime.invoke(spec.name, {})
    error, errored = _warm(runtime, spec.name, {"action": "hang"})
    assert errored and error == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    assert runtime.workers(spec.name) == []
    assert list(runtime.log_lines(spec.name))[-1].endswith("\tStatus: timeout")
    spec = registered(runtime, function(tmp_path, "exiting"))
    runtime.invoke(spec.name, {})
    error, errored = _warm(runtime, spec.name, {"action": "exit"})
    assert errored and error["errorType"] == "Runtime.ExitError" and "exit status 3" in error["errorMessage"]
    assert runtime.workers(spec.name) == []


def test_a_caller_that_stops_waiting_does_not_free_a_worker_still_running(
        runtime: ProcessRuntime, tmp_path: Path) -> None:
    spec = registered(runtime, function(tmp_path, "blocking"))
    runtime.invoke(spec.name, {})
    started, release = tmp_path / "started", tmp_path / "release"

    async def abandon() -> Any:
        pending = runtime.invoke_warm(spec.name, {"action": "block", "started": str(started),
                                                  "release": str(release)})
        assert pending is not None
        caller = asyncio.ensure_future(pending)
        while not started.exists():
            await asyncio.sleep(0.01)
        caller.cancel()
        await asyncio.sleep(0.1)
        busy = [w.busy for w in runtime.workers(spec.name)]
        release.touch()
        for _ in range(500):  # the invocation itself goes on and frees its worker when it ends
            if not any(w.busy for w in runtime.workers(spec.name)):
                break
            await asyncio.sleep(0.01)
        return busy

    assert _run(abandon()) == [True]
    assert [w.busy for w in runtime.workers(spec.name)] == [False]
    assert sum(line.startswith("REPORT") for line in runtime.log_lines(spec.name)) == 2


def test_the_gateway_runs_a_warm_route_on_the_loop_and_a_cold_one_on_a_thread(
        runtime: ProcessRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = registered(runtime, function(tmp_path, "routed", source=(
        "import json\n"
        "def handler(event, context):\n"
        "    return {'statusCode': 200, 'body': json.dumps(event)}\n")))
    on_threads: list[str] = []
    call = api_gateway._call
    monkeypatch.setattr(api_gateway, "_call", lambda route, *args: on_threads.append(route.path) or call(route, *args))
    app = build_app([HttpRoute("POST", "/items/{id}", spec.name)], runtime.invoke)

    async def requests() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as client:
            return [await client.post(f"/items/{n}?q={n}", content=b"\xff\x00" if n else b"plain",
                                      headers={"user-agent": "t", "x-n": str(n)}) for n in range(3)]

    answers = _run(requests())
    assert on_threads == ["/items/{id}"]  # the cold start only
    events = [answer.json() for answer in answers]
    assert all(answer.status_code == 200 for answer in answers)
    for n, event in enumerate(events):  # the same payload 2.0 event either way
        assert set(event) == {"version", "routeKey", "rawPath", "rawQueryString", "headers",
                              "queryStringParameters", "requestContext", "body", "isBase64Encoded"}
        assert (event["routeKey"], event["rawPath"], event["rawQueryString"]) == ("POST /items/{id}",
                                                                                  f"/items/{n}", f"q={n}")
        assert event["headers"]["x-n"] == str(n) and event["queryStringParameters"] == {"q": str(n)}
        assert event["isBase64Encoded"] is bool(n) and "authorizer" not in event["requestContext"]
    assert events[1]["body"] == "/wA=" and events[0]["body"] == "plain"
    assert set(events[0]["requestContext"]) == set(events[2]["requestContext"])
