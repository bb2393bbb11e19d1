"""`python -m bench.run --quick` as CI runs it: a smoke test of the benchmark code, not of the numbers.

Every figure the bench declares (``bench.results.FIGURES``, the rows of the benchmark table) must be
in the results with its unit; a value may be null only where the figure says why (``missing``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the checkout (`python -m bench.run`), not a package
from bench.results import FIGURES  # noqa: E402

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

    # where the machine's CPU went during each throughput run: every part used some, the stack's
    # own share is its stack_cpu figure, and the busy cores are within what the machine has
    for name in ("signups_per_minute", "engine_floor_signups_per_minute", "events_per_minute",
                 "engine_floor_events_per_minute"):
        fig = figures[name]
        if fig.get("missing"):
            continue
        split = fig["cpu_ms_per_completion"]
        assert set(split) == {"stack", "workers", "emulator", "bench_client"}, (name, split)
        assert split["stack"] > 0 and split["bench_client"] > 0, (name, split)
        assert min(split.values()) >= 0, (name, split)  # no-op workers may use less than a clock tick (10 ms)
        assert abs(split["stack"] - fig["stack_cpu_ms_per_completion"]) <= 0.05 * split["stack"] + 0.2, (name, fig)
        assert 0 < fig["machine_busy_cores"] <= machine["cores"] + 0.1, (name, fig)
    # the sign-ups' handlers call Cognito, DynamoDB and Stripe: their workers worked (tens of ms each)
    assert figures["signups_per_minute"]["cpu_ms_per_completion"]["workers"] > 0
