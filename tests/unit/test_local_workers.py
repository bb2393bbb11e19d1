"""ProcessRuntime: handlers in worker processes under awslambdaric, as Lambda runs them.

Each test writes a tiny function folder to ``tmp_path``; no moto is needed. Nothing here
measures wall time: a timeout test uses a 1 s ``Timeout`` and asserts Lambda's error.
"""

from __future__ import annotations

import os
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from linkflow.local.lambda_runtime import FunctionSpec, HandlerFault
from linkflow.local.runtime import ProcessRuntime

REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

APP = """
import os
import time
from pathlib import Path

class PaymentDeclined(Exception):
    pass

def handler(event, context):
    print("handling", event.get("say", "-"))
    action = event.get("action")
    if action == "raise":
        raise PaymentDeclined("card declined")
    if action == "environ":
        return dict(os.environ)
    if action == "hang":
        time.sleep(60)
    if action == "exit":
        os._exit(3)
    if action == "block":  # until the test releases it
        Path(event["started"]).touch()
        while not Path(event["release"]).exists():
            time.sleep(0.01)
    return {"pid": os.getpid(), "echo": event.get("say"), "left_ms": context.get_remaining_time_in_millis()}
"""


@dataclass
class Spec(FunctionSpec):
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions (FunctionSpec's field once wired)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[ProcessRuntime]:
    rt = ProcessRuntime(tmp_path / "logs", region=REGION, credentials=CREDENTIALS)
    yield rt
    rt.close()


def function(tmp_path: Path, name: str, source: str = APP, **options: Any) -> Spec:
    code = tmp_path / name
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent(source))
    options.setdefault("environment", {"TABLE_NAME": f"{name}-table", "POWERTOOLS_SERVICE_NAME": name})
    options.setdefault("layer_dirs", [])
    return Spec(logical_id=f"{name.title()}Function", name=f"linkflow-{name}",
                arn=f"arn:aws:lambda:{REGION}:123456789012:function:linkflow-{name}", code_dir=code,
                handler="app.handler", **options)


def registered(runtime: ProcessRuntime, spec: Spec) -> Spec:
    runtime.register(spec)
    return spec


def eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def test_a_handler_answers_its_result_and_its_error_as_lambda_does(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "echo"))
    result, errored = runtime.invoke(spec.name, {"say": "hi"})
    assert not errored and result["echo"] == "hi"
    assert 0 < result["left_ms"] <= spec.timeout * 1000

    error, errored = runtime.invoke(spec.arn, {"action": "raise"})
    assert errored
    assert error["errorType"] == "PaymentDeclined"  # what a Retry/Catch ErrorEquals matches
    assert error["errorMessage"] == "card declined"
    assert runtime.invocations[spec.name] == 2


def test_a_worker_sees_exactly_its_functions_environment_and_lambdas(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "env", environment={"TABLE_NAME": "profiles", "STAGE": "dev"}))
    os.environ["LINKFLOW_STACK_ONLY"] = "the stack's own environment must not leak"
    try:
        seen, errored = runtime.invoke(spec.logical_id, {"action": "environ"})
    finally:
        del os.environ["LINKFLOW_STACK_ONLY"]
    assert not errored
    lambda_keys = {"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
                   "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
                   "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "_HANDLER",
                   "AWS_REGION", "AWS_DEFAULT_REGION", "TZ", "LANG", "PATH", "PYTHONPATH",
                   "_X_AMZN_TRACE_ID"}  # the last one set by the runtime client per invocation, as on Lambda
    assert set(seen) == {"TABLE_NAME", "STAGE"} | lambda_keys | set(CREDENTIALS)
    assert (seen["TABLE_NAME"], seen["STAGE"]) == ("profiles", "dev")
    assert seen["AWS_LAMBDA_FUNCTION_NAME"] == spec.name
    assert seen["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(spec.memory_size)
    assert seen["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{spec.name}"
    assert seen["LAMBDA_TASK_ROOT"] == str(spec.code_dir)
    assert seen["_HANDLER"] == "app.handler"
    assert seen["AWS_REGION"] == seen["AWS_DEFAULT_REGION"] == REGION
    assert seen["TZ"] == ":UTC"
    assert seen["AWS_ACCESS_KEY_ID"] == "testing"


def test_layers_are_on_the_workers_path_as_opt_python_is(runtime, tmp_path):
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "shared_helpers.py").write_text("GREETING = 'from the layer'\n")
    source = "import shared_helpers\n\ndef handler(event, context):\n    return shared_helpers.GREETING\n"
    spec = registered(runtime, function(tmp_path, "layered", source, layer_dirs=[layer]))
    assert runtime.invoke(spec.name, {}) == ("from the layer", False)


def test_a_warm_worker_is_reused_and_a_timeout_kills_it(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "slow", timeout=1))
    first, _ = runtime.invoke(spec.name, {})
    second, _ = runtime.invoke(spec.name, {})
    assert first["pid"] == second["pid"]

    error, errored = runtime.invoke(spec.name, {"action": "hang"})
    assert errored
    assert error == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    with pytest.raises(ProcessLookupError):
        os.kill(first["pid"], 0)  # the worker is gone (its whole process group killed)

    fresh, errored = runtime.invoke(spec.name, {})
    assert not errored and fresh["pid"] != first["pid"]


def test_the_init_limit_bounds_a_cold_start_only(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "warm"))
    first, _ = runtime.invoke(spec.name, {})
    runtime.init_timeout = 0.0  # long past for the warm worker: it still serves
    second, errored = runtime.invoke(spec.name, {})
    assert not errored and second["pid"] == first["pid"]


def test_a_cold_starts_first_invocation_times_out_at_its_own_deadline_not_the_init_limit(tmp_path):
    rt = ProcessRuntime(tmp_path / "logs", init_timeout=20.0)
    try:
        spec = registered(rt, function(tmp_path, "cold_hang", timeout=1))
        started = time.monotonic()
        error, errored = rt.invoke(spec.name, {"action": "hang"})
        assert errored and error["errorType"] == "Sandbox.Timedout"
        # the init (well under 20 s) plus the 1 s timeout; waiting for the init limit would take 20 s
        assert time.monotonic() - started < 12
    finally:
        rt.close()


def test_an_init_that_hangs_is_stopped_at_the_init_limit(tmp_path):
    rt = ProcessRuntime(tmp_path / "logs", init_timeout=0.5)
    try:
        spec = registered(rt, function(tmp_path, "stuck", "import time\ntime.sleep(60)\n"))
        error, errored = rt.invoke(spec.name, {})
        assert errored and error["errorType"] == "Sandbox.Timedout"
        assert rt.workers() == []
        assert any("Status: timeout" in line for line in rt.log_lines(spec.name) if line.startswith("INIT_REPORT"))
    finally:
        rt.close()


def test_a_worker_that_exits_fails_its_invocation_and_is_replaced(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "crashy"))
    before, _ = runtime.invoke(spec.name, {})
    error, errored = runtime.invoke(spec.name, {"action": "exit"})
    assert errored and error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]
    after, errored = runtime.invoke(spec.name, {})
    assert not errored and after["pid"] != before["pid"]


def test_reserved_concurrency_throttles_at_once_without_queueing(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "webhook", reserved_concurrency=1))
    started, release = tmp_path / "started", tmp_path / "release"
    first: list[Any] = []
    busy = threading.Thread(target=lambda: first.append(runtime.invoke(
        spec.name, {"action": "block", "started": str(started), "release": str(release)})))
    busy.start()
    try:
        eventually(started.exists, "the first invocation is running")
        throttled = runtime.invoke(spec.name, {})
    finally:
        release.touch()
        busy.join()
    assert throttled == ({"errorType": "Lambda.TooManyRequestsException", "errorMessage": "Rate Exceeded."}, True)
    assert first[0][1] is False
    assert runtime.throttles[spec.name] == 1
    assert runtime.invoke(spec.name, {})[1] is False  # the slot is free again


def test_the_overall_cap_evicts_an_idle_worker_and_throttles_when_all_are_busy(tmp_path):
    rt = ProcessRuntime(tmp_path / "logs", max_workers=1)
    try:
        a = registered(rt, function(tmp_path, "a"))
        b = registered(rt, function(tmp_path, "b"))
        rt.invoke(a.name, {})
        assert rt.invoke(b.name, {})[1] is False  # a's idle worker made room
        assert [w.function for w in rt.workers()] == [b.name]

        started, release = tmp_path / "started", tmp_path / "release"
        busy = threading.Thread(target=rt.invoke, args=(b.name, {"action": "block", "started": str(started),
                                                                 "release": str(release)}))
        busy.start()
        try:
            eventually(started.exists, "b is running")
            result, errored = rt.invoke(a.name, {})
        finally:
            release.touch()
            busy.join()
        assert errored and result["errorType"] == "Lambda.TooManyRequestsException"
    finally:
        rt.close()


def test_an_init_error_fails_the_invocation_with_that_error(runtime, tmp_path):
    source = "import os\nTABLE = os.environ['MISSING_TABLE']\n\ndef handler(event, context):\n    return 1\n"
    spec = registered(runtime, function(tmp_path, "broken", source))
    for _ in range(2):  # each invocation retries init in a fresh worker, as Lambda does
        error, errored = runtime.invoke(spec.name, {})
        assert errored
        assert error["errorType"] == "KeyError"
        assert "MISSING_TABLE" in error["errorMessage"]
    assert runtime.workers() == []
    log = list(runtime.log_lines(spec.name))
    assert sum(line.startswith("INIT_REPORT Init Duration: ") and "Status: error\tError Type: KeyError" in line
               for line in log) == 2


def test_an_unimportable_handler_is_lambdas_import_module_error(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "missing_dep", "import not_installed_anywhere\n"))
    error, errored = runtime.invoke(spec.name, {})
    assert errored and error["errorType"] == "Runtime.ImportModuleError"


def test_logs_carry_start_end_report_and_init_duration_on_the_cold_start_only(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "logged", memory_size=256))
    runtime.invoke(spec.name, {"say": "one"})
    runtime.invoke(spec.name, {"say": "two"})
    lines = list(runtime.log_lines(spec.logical_id))  # by logical id as by deployed name
    assert lines == list(runtime.log_lines(spec.name))
    starts = [i for i, line in enumerate(lines) if line.startswith("START RequestId: ")]
    reports = [line for line in lines if line.startswith("REPORT RequestId: ")]
    assert len(starts) == len(reports) == 2
    request_id = lines[starts[0]].split()[2]
    assert lines[starts[0]] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[starts[0] + 1] == "handling one"  # the handler's output between START and END
    assert lines[starts[0] + 2] == f"END RequestId: {request_id}"
    fields = dict(field.split(": ", 1) for field in reports[0].split("\t"))
    assert fields["REPORT RequestId"] == request_id
    assert set(fields) == {"REPORT RequestId", "Duration", "Billed Duration", "Memory Size", "Max Memory Used",
                           "Init Duration"}
    assert fields["Memory Size"] == "256 MB"
    assert int(fields["Max Memory Used"].removesuffix(" MB")) > 0
    assert fields["Duration"].endswith(" ms") and fields["Init Duration"].endswith(" ms")
    assert "Init Duration" not in reports[1]


def test_a_timeout_is_in_the_log_as_lambda_writes_it(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "hung", timeout=1))
    runtime.invoke(spec.name, {"action": "hang"})
    lines = list(runtime.log_lines(spec.name))
    assert lines[-3].endswith("Task timed out after 1.00 seconds")
    assert lines[-1].startswith("REPORT RequestId: ") and lines[-1].endswith("\tStatus: timeout")


def test_following_a_log_yields_new_lines_until_stopped(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "followed"))
    stop = threading.Event()
    seen: list[str] = []

    def follow() -> None:
        for line in runtime.log_lines(spec.name, follow=True, stop=stop):
            seen.append(line)

    reader = threading.Thread(target=follow)
    reader.start()
    try:
        runtime.invoke(spec.name, {"say": "while followed"})
        eventually(lambda: any(line.startswith("REPORT") for line in seen), "the follower sees the REPORT")
    finally:
        stop.set()
        reader.join()
    assert "handling while followed" in seen


def test_idle_workers_are_reaped_and_the_next_invocation_starts_cold(tmp_path):
    rt = ProcessRuntime(tmp_path / "logs", idle_timeout=0.2)
    try:
        spec = registered(rt, function(tmp_path, "idle"))
        first, _ = rt.invoke(spec.name, {})
        eventually(lambda: rt.workers() == [], "the idle worker is reaped")
        with pytest.raises(ProcessLookupError):
            os.kill(first["pid"], 0)
        second, errored = rt.invoke(spec.name, {})
        assert not errored and second["pid"] != first["pid"]
        reports = [line for line in rt.log_lines(spec.name) if line.startswith("REPORT")]
        assert ["Init Duration" in line for line in reports] == [True, True]
    finally:
        rt.close()


def test_faults_are_answered_without_invoking_and_counted(runtime, tmp_path):
    spec = registered(runtime, function(tmp_path, "faulty"))
    runtime.inject(spec.logical_id, HandlerFault(count=1, error="Lambda.ServiceException", message="injected"))
    assert runtime.invoke(spec.name, {}) == ({"errorType": "Lambda.ServiceException", "errorMessage": "injected"}, True)
    assert runtime.workers() == []  # no worker was started for it
    assert runtime.invoke(spec.name, {})[1] is False
    assert runtime.invocations[spec.name] == 2


def _blocked(rt: ProcessRuntime, spec: Spec, tmp_path: Path, tag: str) -> tuple[threading.Thread, Path, list[Any]]:
    """An invocation of ``spec`` running (its handler blocked) until the test touches the returned path."""
    started, release = tmp_path / f"started-{tag}", tmp_path / f"release-{tag}"
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(rt.invoke(
        spec.name, {"action": "block", "started": str(started), "release": str(release)})))
    thread.start()
    eventually(started.exists, f"invocation {tag} is running")
    return thread, release, answers


def test_a_full_pool_makes_an_invocation_wait_for_a_warm_worker_not_start_one(tmp_path):
    rt = ProcessRuntime(tmp_path / "logs", pool_size=1, pool_wait=60.0)
    try:
        spec = registered(rt, function(tmp_path, "pooled"))
        first, release, first_answers = _blocked(rt, spec, tmp_path, "first")
        second: list[Any] = []
        waiting = threading.Thread(target=lambda: second.append(rt.invoke(spec.name, {"say": "queued"})))
        waiting.start()
        eventually(lambda: rt.waits.get(spec.name) == 1, "the second invocation waits")
        assert len(rt.workers(spec.name)) == 1 and not second  # no second worker, no answer yet
        release.touch()
        first.join()
        waiting.join()
        result, errored = second[0]
        assert not errored and result["echo"] == "queued"
        assert result["pid"] == rt.workers(spec.name)[0].pid  # the first one's worker, warm
        assert rt.cold_starts[spec.name] == 1
        assert first_answers[0][1] is False
    finally:
        rt.close()


def test_an_invocation_that_waited_past_pool_wait_starts_a_worker_of_its_own(tmp_path):
    rt = ProcessRuntime(tmp_path / "logs", pool_size=1, pool_wait=0.2)
    try:
        spec = registered(rt, function(tmp_path, "overflow"))
        first, release, _ = _blocked(rt, spec, tmp_path, "first")
        try:
            result, errored = rt.invoke(spec.name, {"say": "scaled out"})
        finally:
            release.touch()
            first.join()
        assert not errored and result["echo"] == "scaled out"
        assert rt.waits[spec.name] == 1 and rt.cold_starts[spec.name] == 2
    finally:
        rt.close()


def test_invocations_waiting_for_a_worker_count_towards_reserved_concurrency(tmp_path):
    rt = ProcessRuntime(tmp_path / "logs", pool_size=1, pool_wait=60.0)
    try:
        spec = registered(rt, function(tmp_path, "reserved", reserved_concurrency=2))
        first, release, _ = _blocked(rt, spec, tmp_path, "first")
        second: list[Any] = []
        waiting = threading.Thread(target=lambda: second.append(rt.invoke(spec.name, {})))
        waiting.start()
        try:
            eventually(lambda: rt.waits.get(spec.name) == 1, "the second invocation waits")
            throttled = rt.invoke(spec.name, {})  # two in flight: one running, one waiting
        finally:
            release.touch()
            first.join()
            waiting.join()
        assert throttled == ({"errorType": "Lambda.TooManyRequestsException", "errorMessage": "Rate Exceeded."}, True)
        assert second[0][1] is False and rt.throttles[spec.name] == 1
    finally:
        rt.close()


def test_stopping_the_runtime_releases_an_invocation_waiting_for_a_worker(tmp_path):
    rt = ProcessRuntime(tmp_path / "logs", pool_size=1, pool_wait=60.0)
    spec = registered(rt, function(tmp_path, "stopping"))
    first, release, _ = _blocked(rt, spec, tmp_path, "first")
    second: list[Any] = []
    waiting = threading.Thread(target=lambda: second.append(rt.invoke(spec.name, {})))
    waiting.start()
    eventually(lambda: rt.waits.get(spec.name) == 1, "the second invocation waits")
    rt.close()
    waiting.join()
    release.touch()
    first.join()
    assert second[0] == ({"errorType": "Lambda.ServiceException", "errorMessage": "the local stack is stopping"},
                         True)
