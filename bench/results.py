"""The figures a bench run produces, as plain JSON: each has a unit, its method, and a target if
it has one. A figure that could not be measured has ``"value": null`` and ``"missing": reason``."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

Figure = dict[str, Any]

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}

# Every figure a run reports, in the order the table shows them: name -> unit.
FIGURES: dict[str, str] = {
    "trigger_latency_ms": "ms",
    "inline_trigger_latency_ms": "ms",
    "trigger_latency_ratio_p50": "ratio",
    "trigger_latency_ratio_p99": "ratio",
    "webhook_ack_ms": "ms",
    "webhook_floor_ms": "ms",
    "webhook_ack_ratio_p50": "ratio",
    "webhook_ack_ratio_p99": "ratio",
    "me_ms": "ms",
    "me_floor_ms": "ms",
    "me_ratio_p99": "ratio",
    "stripe_requests_per_checkout": "count",
    "stripe_calls_per_signup": "calls/sign-up",
    "stripe_search_calls_per_signup": "calls/sign-up",
    "ddb_writes_per_signup": "writes/sign-up",
    "lambda_invocations_per_signup": "invocations/sign-up",
    "state_transitions_per_signup": "transitions/sign-up",
    "aws_cost_per_million_signups_usd": "USD/1M sign-ups",
    "signups_per_minute": "sign-ups/min",
    "engine_floor_signups_per_minute": "executions/min",
    "signups_floor_ratio": "ratio",
    "events_per_minute": "events/min",
    "engine_floor_events_per_minute": "executions/min",
    "events_floor_ratio": "ratio",
    "stack_peak_rss_mb": "MiB",
    "workers_peak_rss_mb": "MiB",
    "emulator_requests_per_second": "requests/s",
    "reconcile_users": "users",
    "reconcile_seed_s": "s",
    "reconcile_wall_s": "s",
    "reconcile_findings_match": "kinds",
    "reconcile_second_run_findings": "findings",
    "reconcile_stripe_requests_per_1000_users": "requests/1,000 users",
    "reconcile_projected_wall_min_1m_users": "min",
    "reconcile_projected_cost_usd_1m_users": "USD/run",
}


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest-rank: a value that was actually observed (so with
    fewer than 100 samples, p99 is the largest)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def value(unit: str, measured: float | None, method: str, *, target: tuple[str, float] | None = None,
          digits: int = 2, **extra: Any) -> Figure:
    fig: Figure = {"value": None if measured is None else round(measured, digits), "unit": unit, "method": method}
    if target is not None:
        op, bound = target
        fig["target"] = f"{op} {bound:g}"
        fig["pass"] = None if measured is None else _OPS[op](round(measured, digits), bound)
    fig.update(extra)
    return fig


def latency(samples_ms: Sequence[float], method: str, **extra: Any) -> Figure:
    return {"p50": round(percentile(samples_ms, 50), 2), "p99": round(percentile(samples_ms, 99), 2),
            "mean": round(sum(samples_ms) / len(samples_ms), 2), "n": len(samples_ms), "unit": "ms",
            "slowest": [round(x, 2) for x in sorted(samples_ms)[-3:][::-1]], "method": method, **extra}


def missing(unit: str, reason: str, **extra: Any) -> Figure:
    return {"value": None, "unit": unit, "missing": reason, **extra}


def headline(fig: Figure) -> str:
    """The figure as the table shows it."""
    if fig.get("missing"):
        return "n/a"
    if "p50" in fig:
        return f"p50 {fig['p50']:g} / p99 {fig['p99']:g}"
    return f"{fig['value']:g}" if fig.get("value") is not None else "n/a"
