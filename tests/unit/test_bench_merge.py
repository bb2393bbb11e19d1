"""``python -m bench.run --only STEP --merge``: the figures of the steps run replace theirs in the
existing results, each saying which run measured it; every other figure stays as it was."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is a folder of the checkout (`python -m bench.run`), not a package
from bench import run as bench_run  # noqa: E402
from bench.results import FIGURES, missing  # noqa: E402

RECONCILE = next(names for step, _, names in bench_run.STEPS if step == "reconcile")


def _results(date: str, value: float, mode: str = "full") -> dict:
    return {"date": date, "mode": mode, "duration_s": 10.0, "machine": {"cores": 2, "load_average_at_start": [1.0]},
            "figures": {name: {"value": value, "unit": unit} for name, unit in FIGURES.items()}}


def test_merge_replaces_only_the_figures_of_the_steps_run_and_says_where_they_come_from():
    previous = _results("2026-12-01T00:00:00+00:00", 1.0)
    run = _results("2026-12-02T05:00:00+00:00", 2.0)
    for name in FIGURES:
        if name not in RECONCILE:
            run["figures"][name] = missing(FIGURES[name], "not run (--only reconcile)")

    merged = bench_run.merge(previous, run, ["reconcile"], "python -m bench.run --only reconcile --merge")

    assert merged["date"] == previous["date"] and merged["machine"] == previous["machine"]
    assert list(merged["figures"]) == list(FIGURES)
    for name in FIGURES:
        fig = merged["figures"][name]
        if name in RECONCILE:
            assert fig["value"] == 2.0
            assert fig["measured"]["date"] == run["date"]
            assert fig["measured"]["command"] == "python -m bench.run --only reconcile --merge"
            assert fig["measured"]["machine"] == run["machine"]
        else:
            assert fig == previous["figures"][name], name
    assert merged["merged"] == [{"steps": ["reconcile"], **merged["figures"]["reconcile_users"]["measured"]}]

    again = bench_run.merge(merged, _results("2026-12-03T00:00:00+00:00", 3.0), ["reconcile"], "x")
    assert [m["date"] for m in again["merged"]] == ["2026-12-03T00:00:00+00:00"]  # the older merge is gone
    assert again["figures"]["reconcile_users"]["value"] == 3.0


def test_merge_refuses_a_run_of_another_mode_and_needs_only():
    with pytest.raises(ValueError, match="quick"):
        bench_run.merge(_results("a", 1.0), _results("b", 2.0, mode="quick"), ["reconcile"], "x")
    with pytest.raises(SystemExit):
        bench_run.parse(["--merge"])
    assert bench_run.parse(["--only", "reconcile", "--merge"]).merge is True
