"""What every figure's ``measure(run)`` gets: the stack, the sizes of this mode, shared state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from .stack import BenchStack


@dataclass(frozen=True)
class Sizes:
    emulator_creates: int
    emulator_threads: int
    count_signups: int
    signups: int
    signup_budget_s: float
    events: int
    events_budget_s: float
    drain_s: float
    webhook_pairs: int
    trigger_pairs: int
    settle_s: float  # latency figures: wait this long at most for earlier executions to end
    trigger_budget_s: float  # latency figures: stop taking pairs after this long
    webhook_budget_s: float
    # reconcile: Cognito users seeded and cases injected per finding kind (issue #12: 10,000 and 100).
    reconcile_users: int = 10_000
    reconcile_per_kind: int = 100
    reconcile_shards: int = 16  # reconcile: the template's default ReconcileShards
    reconcile_budget_s: float = 900.0  # reconcile: longest wait for one run (or the seeding's onboardings)
    workers: int = 16
    max_in_flight: int = 16  # executions running at once before the workers hold back


FULL = Sizes(emulator_creates=1000, emulator_threads=8, count_signups=5, signups=1000, signup_budget_s=100,
             events=1000, events_budget_s=60, drain_s=60, webhook_pairs=150, trigger_pairs=100,
             settle_s=10.0, trigger_budget_s=100, webhook_budget_s=90)
QUICK = Sizes(emulator_creates=60, emulator_threads=4, count_signups=1, signups=20, signup_budget_s=10,
              events=20, events_budget_s=8, drain_s=15, webhook_pairs=8, trigger_pairs=6, settle_s=1.0,
              trigger_budget_s=10, webhook_budget_s=8, reconcile_users=500, reconcile_per_kind=5,
              reconcile_shards=4, reconcile_budget_s=120.0)


@dataclass
class Run:
    stack: BenchStack
    sizes: Sizes
    console: Console
    # What one figure leaves for another: signed-up users (sub, email, customer id), and so on.
    state: dict[str, Any] = field(default_factory=dict)

    def log(self, message: str) -> None:
        self.console.log(message)
