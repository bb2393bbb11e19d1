"""The reconcile step of the quick bench (``python -m bench.run --quick --only reconcile``): a small
population seeded, reconciled twice on the local stack, every reconcile figure measured (none
missing), what was injected found, the second run clean, the other figures marked not run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the checkout (`python -m bench.run`), not a package
from bench.context import QUICK  # noqa: E402
from bench.results import FIGURES  # noqa: E402
from bench.run import STEPS  # noqa: E402

RECONCILE = next(names for step, _, names in STEPS if step == "reconcile")


def test_the_quick_reconcile_step_measures_every_figure(tmp_path):
    output = tmp_path / "results.json"
    command = [sys.executable, "-m", "bench.run", "--quick", "--only", "reconcile", "--output", str(output)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    figures = json.loads(output.read_text())["figures"]
    for name in RECONCILE:
        assert not figures[name].get("missing"), (name, figures[name])
    assert figures["reconcile_users"]["value"] == QUICK.reconcile_users
    match = figures["reconcile_findings_match"]
    assert match["pass"] is True and match["mismatched"] == {}, match
    assert set(match["found"].values()) == {QUICK.reconcile_per_kind}
    assert figures["reconcile_second_run_findings"]["value"] == 0
    assert 0 < figures["reconcile_stripe_requests_per_1000_users"]["value"] <= 30
    assert figures["reconcile_projected_cost_usd_1m_users"]["value"] > 0
    others = [name for name in FIGURES if name not in RECONCILE and name in figures and figures[name].get("missing")]
    assert "trigger_latency_ms" in others  # not run, and said so
