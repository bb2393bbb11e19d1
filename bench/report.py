"""The results as the rich table ``bench.run`` prints and as the markdown table of
README.md#benchmarks (``python -m bench.report [bench/results.json]``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from .results import headline


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(figure, value, unit, target, pass/miss) per figure."""
    out = []
    for name, fig in results["figures"].items():
        verdict = "" if "pass" not in fig else ("n/a" if fig["pass"] is None else "pass" if fig["pass"] else "MISS")
        shown = headline(fig)
        if fig.get("missing"):
            shown = f"n/a ({fig['missing']})"
        out.append((name, shown, fig.get("unit", ""), fig.get("target", ""), verdict))
    return out


def table(results: dict[str, Any]) -> Table:
    m = results["machine"]
    caption = (f"{results['date']} · {results['mode']} mode · {m['cpu_model']} · {m['cores']} cores · "
               f"{m['memory_gib']} GiB · load {m.get('load_average_at_start')} → {m.get('load_average_at_end')}")
    t = Table(title="linkflow benchmarks (local stack)", caption=caption)
    for column in ("figure", "value", "unit", "target", ""):
        t.add_column(column)
    for name, shown, unit, target, verdict in rows(results):
        style = {"pass": "green", "MISS": "bold red"}.get(verdict)
        t.add_row(name, shown, unit, target, verdict, style=style)
    return t


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [f"Run {results['date']} ({results['mode']} mode, {results['duration_s']} s) on {m['cpu_model']}, "
             f"{m['cores']} cores, {m['memory_gib']} GiB, {m['platform']}; load average "
             f"{m.get('load_average_at_start')} at the start, {m.get('load_average_at_end')} at the end.", "",
             "| figure | value | unit | target | result |", "| --- | --- | --- | --- | --- |"]
    for name, shown, unit, target, verdict in rows(results):
        lines.append(f"| `{name}` | {shown} | {unit} | {target} | {verdict} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results.json")
    print(markdown(json.loads(path.read_text())), end="")
