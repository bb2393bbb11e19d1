"""Rich output for people; ``--output json`` documents are built by the commands, not here."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

STATUS_STYLE = {"SUCCEEDED": "green", "RUNNING": "cyan", "FAILED": "red", "TIMED_OUT": "red", "ABORTED": "yellow",
                "PENDING_REDRIVE": "cyan", "succeeded": "green", "running": "cyan", "failed": "red",
                "caught": "yellow", "aborted": "yellow", "redriven": "green", "skipped": "yellow",
                "would_redrive": "cyan"}


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output keeps whole lines (an ARN, a cause) instead of wrapping at 80 columns.
    return Console(file=stream, width=None if stream.isatty() else 200, highlight=False, soft_wrap=False)


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def styled(status: str | None) -> str:
    if not status:
        return "-"
    style = STATUS_STYLE.get(status)
    return f"[{style}]{escape(status)}[/]" if style else escape(status)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def short_time(iso_ts: str | None) -> str:
    return iso_ts.replace("T", " ").removesuffix("Z") if iso_ts else "-"


def cause_text(cause: str | None) -> str:
    """The message of a Lambda error's JSON cause (``errorMessage``); other causes as they are."""
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return str(parsed.get("errorMessage") or cause) if isinstance(parsed, dict) else cause


def state_errors(state: dict[str, Any]) -> str:
    """``retried 5x (StripeUnavailable x5); StripeUnavailable: <message>``."""
    parts = []
    if state["retries"]:
        counts = Counter(r["error"] for r in state["retries"])
        listed = ", ".join(f"{error} x{n}" for error, n in counts.items())
        parts.append(f"retried {len(state['retries'])}x ({listed})")
    if state["error"]:
        parts.append(f"{state['error']}: {cause_text(state['cause'])}".rstrip(": "))
    return "; ".join(parts)


def redrive_window(days_left: float | None) -> str:
    """``13.9 d left``, ``closed`` (past the 14-day window) or ``-`` (not failed)."""
    if days_left is None:
        return "-"
    if days_left <= 0:
        return "[red]closed[/]"
    text = f"{days_left:g} d left"
    return f"[yellow]{text}[/]" if days_left < 2 else text


def executions_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "machine", "status", "start (UTC)", "duration", "redrives", "redrive window",
                   "failed state"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        failed = row["failed_state"] or ""
        if row.get("error"):
            failed = f"{failed} ({row['error']})" if failed else row["error"]
        table.add_row(escape(row["name"]), row["machine"], styled(row["status"]), short_time(row["start_date"]),
                      duration(row["duration_s"]), str(row["redrive_count"]),
                      redrive_window(row.get("redrive_days_left")), escape(failed) or "-")
    return table


def show_execution(out: Console, doc: dict[str, Any], with_io: bool) -> None:
    out.print(f"[bold]{escape(doc['name'])}[/]  {doc['machine']}  {styled(doc['status'])}")
    out.print(f"  arn       {escape(doc['execution_arn'])}")
    out.print(f"  started   {short_time(doc['start_date'])} UTC   stopped {short_time(doc['stop_date'])}   "
              f"duration {duration(doc['duration_s'])}")
    reason = f" ({escape(doc['redrive_status_reason'])})" if doc.get("redrive_status_reason") else ""
    window = f"   redrive window {redrive_window(doc.get('redrive_days_left'))}" if doc.get("redrive_deadline") else ""
    out.print(f"  redrives  {doc['redrive_count']}   redrive status {doc.get('redrive_status') or '-'}{reason}"
              f"{window}   history events {doc['history_events']}")
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("#", "state", "run", "status", "entered (UTC)", "duration", "attempts", "errors"):
        table.add_column(column, no_wrap=column != "errors", overflow="fold")
    redriven_at = iter([e["timestamp"] for e in doc["execution_events"] if e["type"] == "ExecutionRedriven"])
    run = 0
    for index, state in enumerate(doc["states"], 1):
        if state["run"] != run:
            run = state["run"]
            when = next(redriven_at, None)
            table.add_row("", f"[cyan]-- redriven ({run}) --[/]", "", "", short_time(when), "", "", "")
        name = escape(state["state"]) + (" [magenta](compensation)[/]" if state["compensation"] else "")
        table.add_row(str(index), name, str(state["run"]), styled(state["status"]), short_time(state["entered"]),
                      duration(None if state["duration_ms"] is None else state["duration_ms"] / 1000),
                      str(state["attempts"]), escape(state_errors(state)))
    out.print(table)
    if doc["status"] in ("FAILED", "TIMED_OUT", "ABORTED"):
        where, error, cause = doc.get("failed_state") or "?", doc.get("error"), doc.get("cause")
        out.print(f"[red]failed at {escape(where)}[/]: {escape(str(error))}: {escape(cause_text(cause))}")
    if doc["compensations"]:
        out.print(f"compensations taken: {escape(', '.join(doc['compensations']))}")
    if with_io:
        _print_io(out, doc)


def _print_io(out: Console, doc: dict[str, Any]) -> None:
    out.print("[bold]execution input[/]")
    out.print(escape(json.dumps(doc.get("input"), indent=2)))
    for index, state in enumerate(doc["states"], 1):
        out.print(f"[bold]{index}. {escape(state['state'])}[/] input")
        out.print(escape(json.dumps(state.get("input"), indent=2)))
        out.print(f"[bold]{index}. {escape(state['state'])}[/] output")
        out.print(escape(json.dumps(state.get("output"), indent=2)))
    out.print("[bold]execution output[/]")
    out.print(escape(json.dumps(doc.get("output"), indent=2)))


def redrive_table(report: dict[str, Any]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "machine", "result", "reason"):
        table.add_column(column, no_wrap=column != "reason", overflow="fold")
    for row in report["executions"]:
        table.add_row(escape(row["name"]), row["machine"], styled(row["result"]), escape(row["reason"] or ""))
    return table


def selection_note(chosen: int, left_out: int, window_closed: int, max_count: int | None = None) -> str:
    """What a bulk redrive leaves out: ``12 more left out by --max 100 (run again for them)``."""
    notes = [f"{chosen} to redrive, oldest first"]
    if left_out:
        notes.append(f"{left_out} more left out by --max{f' {max_count}' if max_count else ''} "
                     "(run again for them)")
    if window_closed:
        notes.append(f"{window_closed} past the 14-day redrive window, not tried")
    return "; ".join(notes)


def redrive_summary(report: dict[str, Any]) -> str:
    s = report["summary"]
    if report["dry_run"]:
        line = f"dry run: would redrive {s['would_redrive']}, would skip {s['skipped']}"
    else:
        line = f"redriven {s['redriven']}, skipped {s['skipped']}, failed {s['failed']}"
    if report["throttled_retries"]:
        line += f" (throttled {report['throttled_retries']}x, backed off)"
    if report.get("left_out"):
        line += f"; {report['left_out']} more left out by --max {report['max']} (run again for them)"
    if report.get("window_closed"):
        line += f"; {report['window_closed']} past the 14-day redrive window, not tried"
    return line


def _kv(out: Console, title: str, values: dict[str, Any] | None, missing: str) -> None:
    if values is None:
        out.print(f"  [bold]{title}[/]: [red]{missing}[/]")
        return
    shown = ", ".join(f"{k}={escape(', '.join(v) if isinstance(v, list) else str(v))}"
                      for k, v in values.items() if v not in (None, "", [], {}))
    out.print(f"  [bold]{title}[/]: {shown}")


_USER_FIELDS = {
    "cognito": ("username", "status", "enabled", "email", "email_verified", "linked_providers"),
    "profile": ("email", "stripe_customer_id", "providers", "updated_at"),
    "entitlement": ("status", "plan", "stripe_customer_id", "subscription_id", "current_period_end", "updated_at"),
    "onboarding": ("name", "status", "redrive_count"),
}


def show_user(out: Console, user: dict[str, Any]) -> None:
    out.print(f"[bold]user {escape(user['sub'])}[/]")
    for store, missing in (("cognito", "no user"), ("profile", "no profile"), ("entitlement", "no entitlement"),
                           ("onboarding", "no execution")):
        values = user[store]
        _kv(out, store, values and {k: values.get(k) for k in _USER_FIELDS[store]}, missing)
    if not user["stripe_customers"]:
        out.print("  [bold]stripe[/]: no customer")
    for customer in user["stripe_customers"]:
        state = "[red]not found[/]" if not customer["found"] else "[red]deleted[/]" if customer["deleted"] else "live"
        out.print(f"  [bold]stripe[/]: {escape(customer['id'])} {state} email={escape(str(customer['email']))} "
                  f"found via {'/'.join(customer['sources'])}")
        for sub in customer["subscriptions"]:
            out.print(f"    subscription {escape(str(sub['id']))} {styled_sub(sub['status'])} "
                      f"plan={escape(str(sub['plan']))}")
        if customer.get("unlinked"):
            unlinked = customer["unlinked"]
            out.print(f"    [yellow]events recorded as unlinked[/]: {escape(str(unlinked.get('reason')))}, last "
                      f"{escape(str(unlinked.get('last_event_type')))} {escape(str(unlinked.get('last_event_id')))}")
    for note in user["notes"]:
        out.print(f"  [dim]note: {escape(note)}[/]")


def styled_sub(status: str | None) -> str:
    color = "green" if status in ("active", "trialing") else "yellow" if status else None
    return f"[{color}]{escape(str(status))}[/]" if color else escape(str(status))


def show_users(out: Console, doc: dict[str, Any]) -> None:
    for user in doc["users"]:
        show_user(out, user)
    for customer in doc["orphan_customers"]:
        out.print(f"[bold]stripe customer {escape(customer['id'])}[/] email={escape(str(customer['email']))}: "
                  "linked to no user")
    if doc["drift"]:
        out.print(f"[red bold]drift ({len(doc['drift'])})[/]")
        for drift in doc["drift"]:
            out.print(f"  [red]{drift['code']}[/] {escape(drift['message'])}")
    else:
        out.print("[green]no drift[/]")


# --- reconcile -----------------------------------------------------------------------------------


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def reconcile_runs_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "status", "start (UTC)", "duration", "dry run", "users", "findings", "fixed", "refused",
                   "failed"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("users", "findings", "fixed",
                                                                             "refused", "failed") else "left")
    for row in rows:
        table.add_row(escape(row["name"]), styled(row["status"]), short_time(row["start_date"]),
                      duration(row["duration_s"]), "yes" if row["dry_run"] else "no", _count(row["users_scanned"]),
                      _count(row["findings_total"]), _count(row["fixed_total"]), _count(row["refused_total"]),
                      _count(row["failed_total"]))
    return table


def reconcile_findings_table(doc: dict[str, Any]) -> Table:
    """One row per finding kind: found, fixed, refused, failed (kinds with nothing found are dim)."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("finding", no_wrap=True)
    for column in ("found", "fixed", "refused", "failed"):
        table.add_column(column, justify="right", no_wrap=True)
    findings = doc.get("findings") or {}
    for kind, found in findings.items():
        cells = [found, *((doc.get(field) or {}).get(kind, 0) for field in ("fixed", "refused", "failed"))]
        text = [f"{n:,}" for n in cells]
        if cells[3]:
            text[3] = f"[red]{text[3]}[/]"
        if cells[2]:
            text[2] = f"[yellow]{text[2]}[/]"
        table.add_row(kind if found else f"[dim]{kind}[/]", *(t if found or any(cells) else f"[dim]{t}[/]"
                                                             for t in text))
    return table


def show_reconcile(out: Console, doc: dict[str, Any], max_refusals: int = 20) -> None:
    dry = "  [cyan]dry run[/]" if doc["dry_run"] else ""
    out.print(f"[bold]{escape(doc['name'])}[/]  reconcile  {styled(doc['status'])}{dry}")
    out.print(f"  arn       {escape(doc['execution_arn'])}")
    out.print(f"  started   {short_time(doc['start_date'])} UTC   stopped {short_time(doc['stop_date'])}   "
              f"duration {duration(doc['duration_s'])}")
    fix = ", ".join(doc["fix"]) if doc["fix"] else "every kind but orphan_records"
    out.print(f"  options   scope {doc['scope']}, shards {doc['shards']}, Stripe "
              f"{doc['stripe_requests_per_second'] or '-'}/s, fix {escape(fix)}")
    shards = doc.get("map_run")
    if shards:
        out.print(f"  shards    {shards.get('succeeded', 0)} of {shards.get('total', 0)} succeeded, "
                  f"{shards.get('failed', 0)} failed (Map Run {shards['status']})")
    if doc.get("findings") is None:
        out.print("  [yellow]no report[/]: the run wrote none" + (" yet" if doc["status"] == "RUNNING" else ""))
    else:
        source = f"   [dim](from the {doc['report_source']})[/]" if doc.get("report_source") else ""
        out.print(f"  users     {_count(doc['users_scanned'])} scanned   Stripe requests "
                  f"{_count(doc['stripe_requests'])}{source}")
        out.print(reconcile_findings_table(doc))
    refusals = doc.get("refusals") or []
    for outcome in refusals[:max_refusals]:
        color = "red" if outcome.get("status") == "failed" else "yellow"
        out.print(f"  [{color}]{escape(str(outcome.get('status')))}[/] {escape(str(outcome.get('kind')))} "
                  f"{escape(str(outcome.get('sub')))}: {escape(str(outcome.get('reason') or ''))}")
    if len(refusals) > max_refusals:
        out.print(f"  ... {len(refusals) - max_refusals} more (--output json lists them all)")
    if doc["execution_status"] in ("FAILED", "TIMED_OUT", "ABORTED"):
        where = doc.get("failed_state") or "?"
        out.print(f"[red]run {doc['execution_status']} at {escape(where)}[/]: {escape(str(doc.get('error')))}: "
                  f"{escape(cause_text(doc.get('cause')))}")
        out.print(f"  redrive it (re-runs only the failed shards): linkflow executions redrive {escape(doc['name'])}")
