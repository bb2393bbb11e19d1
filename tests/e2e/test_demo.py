"""`linkflow demo` (what `make demo` runs) ends 0 with every expectation met."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_every_scenario_and_exits_zero(tmp_path):
    # from tmp_path: the demo draws its run into ./.linkflow, which demo --keep's test also writes
    result = subprocess.run([sys.executable, "-m", "linkflow.cli", "demo"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env=None)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    for section in ("1. Native sign-up", "2. Stripe outage", "3. Subscription with a trial", "4. Checkout"):
        assert section in out
    assert "NOT OK" not in out
    assert "demo finished: every expectation held" in out
