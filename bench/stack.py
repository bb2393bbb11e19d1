"""The bench stack: ``linkflow local up`` in a child process, provisioned from the bench template
(template.yaml plus the engine floor), and what the figures need to drive and observe it."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import stripe
from linkflow_shared.subscription_events import HANDLED_EVENT_TYPES

from linkflow.local.client import LocalInfo, LocalStackClient
from linkflow.local.process import LocalStackProcess, ProcessConfig, free_port

from .floor import floor_output, write_bench_template

ROOT = Path(__file__).resolve().parents[1]
WAIT_TIME_SCALE = 0.01
# Happy-path Task states of the real machines; each floor machine chains as many no-op tasks.
# counts.py checks these against the execution history of a real run.
ONBOARDING_TASKS = 5  # CheckDuplicateEmail, WriteProfile, InitEntitlement, CreateStripeCustomer, StoreStripeCustomerId
EVENTS_TASKS = 2  # ResolveCustomer, SyncEntitlement
PASSWORD = "Corr3ct-Horse-Battery!"


@dataclass
class BenchStack:
    process: LocalStackProcess
    workdir: Path
    _clients: dict[str, Any] = field(default_factory=dict)
    worker_peaks_mib: dict[int, float] = field(default_factory=dict)  # pid -> VmHWM, every worker sampled

    @property
    def info(self) -> LocalInfo:
        return self.process.info

    @property
    def outputs(self) -> dict[str, str]:
        return self.process.info["outputs"]

    @property
    def local(self) -> LocalStackClient:
        """The stack's admin API (faults, counts, the emulator's log and webhook delivery)."""
        return self.process.admin

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.process.client(service)
        return self._clients[service]

    def stripe(self) -> stripe.StripeClient:
        return stripe.StripeClient(self.info["stripe"]["api_key"], base_addresses={"api": self.process.stripe_url})

    def floor_arn(self, tasks: int) -> str:
        return self.outputs[floor_output(tasks)]

    def machine_arns(self) -> list[str]:
        return [v for k, v in self.outputs.items() if k.endswith("StateMachineArn")]

    def running(self, machine_arn: str) -> int:
        sfn = self.client("stepfunctions")
        count = 0
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn,
                                                                   statusFilter="RUNNING"):
            count += len(page["executions"])
        return count

    def settle(self, machine_arn: str, timeout: float) -> bool:
        """Until no execution of ``machine_arn`` runs (True) or ``timeout`` passed (False)."""
        deadline = time.monotonic() + timeout
        while self.running(machine_arn):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def wait_quiet(self, timeout: float = 120.0) -> None:
        """Until no webhook is pending and no execution of any machine runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.local.wait_for_webhooks(max(1.0, deadline - time.monotonic()))
            if all(self.running(arn) == 0 for arn in self.machine_arns()):
                if self.local.webhooks_pending() == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"the stack did not go quiet within {timeout:.0f} s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the stack process has used so far."""
        return _stat_cpu(self.process.pid)

    def cpu_by_process(self) -> dict[str, tuple[str, float]]:
        """CPU seconds (user + system) used so far, by process: the stack process, each of its
        children (its handler workers, the Stripe emulator), this bench process (the client threads
        driving the load); each with its part ("stack", "workers", "emulator", "bench_client")."""
        workers = {int(w["pid"]) for w in self.local.workers()["data"]}
        found = {"stack": ("stack", self.cpu_seconds()), "bench_client": ("bench_client", sum(os.times()[:2]))}
        for pid in _children(self.process.pid):
            found[str(pid)] = ("workers" if pid in workers else "emulator", _cpu_seconds(pid))
        return found

    def memory_mib(self) -> dict[str, float]:
        """Peak (VmHWM) and current (VmRSS) resident memory of the stack process."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {k: int(fields[k].split()[0]) / 1024 for k in ("VmHWM", "VmRSS")}

    def sample_workers(self) -> None:
        """Record the peak resident memory (VmHWM) of every handler worker process running now."""
        for worker in self.local.workers()["data"]:
            try:
                status = Path(f"/proc/{worker['pid']}/status").read_text()
            except OSError:
                continue  # stopped meanwhile: its last sample stands
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            self.worker_peaks_mib[worker["pid"]] = int(fields["VmHWM"].split()[0]) / 1024

    def webhook_events(self, types: list[str]) -> None:
        """Subscribe the emulator's webhook endpoints to ``types`` only, as a production endpoint is
        (docs/subscription-events.md): Stripe sends no event linkflow ignores."""
        client = self.stripe()
        for endpoint in client.v1.webhook_endpoints.list().data:
            client.v1.webhook_endpoints.update(endpoint.id, params={"enabled_events": types})

    def webhook_endpoint(self, enabled: bool) -> None:
        """Turn the emulator's delivery to the ingress on or off (set-up traffic is not the workload)."""
        client = self.stripe()
        for endpoint in client.v1.webhook_endpoints.list().data:
            client.v1.webhook_endpoints.update(endpoint.id, params={"disabled": not enabled})


def _children(pid: int | None) -> list[int]:
    """The direct children of ``pid`` (every thread's list in ``/proc``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _stat_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        return _stat_cpu(pid)
    except OSError:
        return 0.0  # exited meanwhile


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has been busy since boot (``/proc/stat``: all but idle
    and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


@contextmanager
def bench_stack() -> Iterator[BenchStack]:
    with tempfile.TemporaryDirectory(prefix="linkflow-bench-") as tmp:
        workdir = Path(tmp)
        template = write_bench_template(ROOT / "template.yaml", workdir, [ONBOARDING_TASKS, EVENTS_TASKS])
        config = ProcessConfig(state_dir=workdir / "state", aws_port=free_port(), stripe_port=free_port(),
                               api_port=free_port(), wait_time_scale=WAIT_TIME_SCALE, template=template)
        with LocalStackProcess(config) as process:
            stack = BenchStack(process=process, workdir=workdir)
            stack.webhook_events(sorted(HANDLED_EVENT_TYPES))
            yield stack


__all__ = ["BenchStack", "bench_stack"]
