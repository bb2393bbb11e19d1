"""`python -m bench.run --quick` as CI runs it: a smoke test of the benchmark code, not of the numbers.

Every figure the README's benchmark table shows must be in the results with its unit; a value may
be null only where the figure says why (``missing``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FIGURES = {
    "trigger_latency_ms": "ms",
    "inline_trigger_latency_ms": "ms",
    "trigger_latency_ratio_p50": "ratio",
    "trigger_latency_ratio_p99": "ratio",
    "webhook_ack_ms": "ms",
    "webhook_floor_ms": "ms",
    "webhook_ack_ratio_p50": "ratio",
    "webhook_ack_ratio_p99": "ratio",
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
    "emulator_requests_per_second": "requests/s",
}
LATENCIES = {name for name, unit in FIGURES.items() if unit == "ms"}


def test_quick_bench_reports_every_figure_with_its_unit(tmp_path):
    output = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--output", str(output)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "linkflow benchmarks" in proc.stdout  # the table was printed

    results = json.loads(output.read_text())
    assert results["mode"] == "quick"
    assert results["date"] and results["duration_s"] > 0
    machine = results["machine"]
    assert machine["platform"] and machine["cpu_model"] and machine["cores"] >= 1 and machine["memory_gib"]
    assert results["prices"]["region"] == "us-east-1"

    figures = results["figures"]
    assert set(FIGURES) <= set(figures), f"missing figures: {set(FIGURES) - set(figures)}"
    for name, unit in FIGURES.items():
        fig = figures[name]
        assert fig["unit"] == unit, (name, fig)
        if fig.get("missing"):
            assert isinstance(fig["missing"], str) and fig["missing"].strip(), (name, fig)
            continue
        if name in LATENCIES:
            assert fig["p50"] is not None and fig["p99"] is not None and fig["n"] > 0, (name, fig)
        else:
            assert fig["value"] is not None, (name, fig)
        if "target" in fig:
            assert isinstance(fig["pass"], bool), (name, fig)
