"""``python -m bench.run [--quick] [--output PATH] [--only STEP ... [--merge]]``: every figure, one
stack, one JSON, one table.

The stack is ``linkflow local up`` in a child process on free ports (wait-time scale 0.01),
provisioned from the bench template (template.yaml plus the engine floor). The figures run one
after another on it; a figure that fails is reported as missing with the reason, and the others
still run. ``--only STEP --merge`` runs those steps and writes their figures into the existing
results file (each figure records the run that measured it, under ``measured``), keeping the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from . import app_api, counts, emulator, machine, pricing, reconcile, report, throughput, trigger, webhook
from .context import FULL, QUICK, Run
from .results import FIGURES, Figure, missing
from .stack import WAIT_TIME_SCALE, bench_stack

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"
# A quick run is a smoke test: it never replaces the committed full results (bench/results.local.json
# is ignored by git).
QUICK_OUTPUT = Path(__file__).resolve().parent / "results.local.json"

Measure = Callable[[Run], dict[str, Figure]]
# In this order: the latency figures come last, so the executions they leave running in the
# background never weigh on a count or a throughput.
STEPS: list[tuple[str, Measure, list[str]]] = [
    ("emulator", emulator.measure, ["emulator_requests_per_second"]),
    ("counts", counts.measure, ["stripe_calls_per_signup", "stripe_search_calls_per_signup",
                                "ddb_writes_per_signup", "lambda_invocations_per_signup",
                                "state_transitions_per_signup", "aws_cost_per_million_signups_usd"]),
    ("signups", throughput.measure_signups, ["signups_per_minute", "engine_floor_signups_per_minute",
                                             "signups_floor_ratio"]),
    ("events", throughput.measure_events, ["events_per_minute", "engine_floor_events_per_minute",
                                           "events_floor_ratio"]),
    ("webhook", webhook.measure, ["webhook_ack_ms", "webhook_floor_ms", "webhook_ack_ratio_p50",
                                  "webhook_ack_ratio_p99"]),
    ("app_api", app_api.measure, ["me_ms", "me_floor_ms", "me_ratio_p99", "stripe_requests_per_checkout"]),
    ("trigger", trigger.measure, ["trigger_latency_ms", "inline_trigger_latency_ms", "trigger_latency_ratio_p50",
                                  "trigger_latency_ratio_p99"]),
    # Last: it adds thousands of Cognito users, which would weigh on every Cognito call after it.
    ("reconcile", reconcile.measure, ["reconcile_users", "reconcile_seed_s", "reconcile_wall_s",
                                      "reconcile_findings_match", "reconcile_second_run_findings",
                                      "reconcile_stripe_requests_per_1000_users",
                                      "reconcile_projected_wall_min_1m_users",
                                      "reconcile_projected_cost_usd_1m_users"]),
]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test of the bench code")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"results JSON (default {DEFAULT_OUTPUT}; with --quick {QUICK_OUTPUT})")
    parser.add_argument("--only", action="append", choices=[name for name, _, _ in STEPS],
                        help="run only this step (repeatable; for working on one figure)")
    parser.add_argument("--merge", action="store_true",
                        help="with --only: put the figures of the steps run into the existing --output file, "
                             "each marked with when and where it was measured; the file's other figures stay")
    args = parser.parse_args(argv)
    if args.merge and not args.only:
        parser.error("--merge needs --only STEP: it replaces the figures of the steps run")
    return args


def merge(previous: dict[str, Any], run: dict[str, Any], steps: list[str], command: str) -> dict[str, Any]:
    """``previous`` with the figures of ``steps`` taken from ``run``, each carrying ``measured`` (the
    date, mode, duration, machine and command of the run that produced it); the run is also listed
    in ``merged``. The file's own date, machine and mode stay those of the run that wrote it."""
    if previous.get("mode") != run["mode"]:
        raise ValueError(f"cannot merge a {run['mode']} run into {previous.get('mode')} results")
    measured = {"date": run["date"], "mode": run["mode"], "duration_s": run["duration_s"],
                "machine": run["machine"], "command": command}
    merged = dict(previous)
    figures = dict(previous["figures"])
    for name, _, names in STEPS:
        if name in steps:
            for fig in names:
                figures[fig] = {**run["figures"][fig], "measured": measured}
    merged["figures"] = {name: figures.get(name, missing(unit, "not produced")) for name, unit in FIGURES.items()}
    merged["merged"] = [m for m in previous.get("merged", []) if set(m["steps"]) - set(steps)] + [
        {"steps": sorted(steps), **measured}]
    return merged


def run_steps(run: Run, only: list[str] | None) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    for name, measure, names in STEPS:
        if only and name not in only:
            for fig in names:
                figures[fig] = missing(FIGURES[fig], f"not run (--only {' '.join(only)})")
            continue
        started = time.monotonic()
        run.log(f"[bold]{name}[/bold] ...")
        try:
            produced = measure(run)
        except Exception as exc:  # one figure failing must not lose the others: report it, go on
            run.console.print(traceback.format_exc(), markup=False, highlight=False)
            produced = {fig: missing(FIGURES[fig], f"{name} failed: {type(exc).__name__}: {exc}") for fig in names}
        figures.update(produced)
        run.stack.sample_workers()
        run.log(f"{name} done in {time.monotonic() - started:.1f} s")
    return figures


def workers_figure(stack: Any, stack_peak_mib: float) -> Figure:
    """The handlers' worker processes: the sum of their peaks (each sampled after every step)."""
    peaks = list(stack.worker_peaks_mib.values())
    workers = stack.local.workers()
    return {"value": round(sum(peaks), 1), "unit": "MiB", "workers": len(peaks),
            "largest_worker_mib": round(max(peaks, default=0.0), 1),
            "stack_and_workers_mib": round(stack_peak_mib + sum(peaks), 1),
            "cold_starts": sum(workers["cold_starts"].values()), "throttles": sum(workers["throttles"].values()),
            "method": "sum of VmHWM over every worker process seen (sampled after each step): an upper bound of "
                      "their combined peak; stack_and_workers_mib adds the stack process's"}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.output is None:
        args.output = QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT
    console = Console(width=None if sys.stdout.isatty() else 120)
    sizes = QUICK if args.quick else FULL
    started, date = time.monotonic(), machine.now_iso()
    info = machine.describe()
    with bench_stack() as stack:
        run = Run(stack=stack, sizes=sizes, console=console)
        figures = run_steps(run, args.only)
        rss = stack.memory_mib()
        figures["stack_peak_rss_mb"] = {"value": round(rss["VmHWM"], 1), "unit": "MiB",
                                        "method": "VmHWM of the stack process (/proc/<pid>/status) at the end of "
                                                  "the run: the peak over every figure",
                                        "rss_at_end_mib": round(rss["VmRSS"], 1)}
        figures["workers_peak_rss_mb"] = workers_figure(stack, rss["VmHWM"])
    info["load_average_at_end"] = machine.load_average()
    results: dict[str, Any] = {
        "date": date,
        "mode": "quick" if args.quick else "full",
        "duration_s": round(time.monotonic() - started, 1),
        "machine": info,
        "stack": {"wait_time_scale": WAIT_TIME_SCALE, "workers": sizes.workers, "sizes": vars(sizes)},
        "prices": pricing.PRICES,
        "figures": {name: figures.get(name, missing(unit, "not produced")) for name, unit in FIGURES.items()},
    }
    if args.merge:
        failed = sorted(n for step, _, names in STEPS if step in args.only for n in names
                        if results["figures"][n].get("missing"))
        if failed:  # a failed step must not replace figures that were measured
            console.print(report.table(results))
            console.print(f"[bold red]not merged into {args.output}[/bold red]: missing {', '.join(failed)}")
            return 1
        command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
        results = merge(json.loads(args.output.read_text()), results, args.only, command)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    console.print(report.table(results))
    console.print(f"results: {args.output}  ({results['duration_s']} s, {results['mode']} mode)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
