"""``linkflow demo``: the product end to end on an in-process local stack.

1. A native sign-up is confirmed; onboarding links the profile, the entitlement and one Stripe
   customer.
2. Stripe goes down: the execution fails at the Stripe task after its retries, the profile and
   entitlement exist anyway; Stripe comes back; a redrive completes the same execution.
3. The first user subscribes with a trial through the stripe SDK; Stripe's webhooks drive the
   subscription-events machine to `trialing`; the trial ends; the entitlement becomes `active`.
4. A user subscribes the way the app does, through its API (no browser): signs in with Cognito
   (`InitiateAuth` `USER_PASSWORD_AUTH`), asks `POST /billing/checkout-session` for a Checkout
   Session with the access token, pays by posting `card_number` to the session's url, and sees the
   entitlement `active` with its features on `GET /me`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

import stripe
from boto3.dynamodb.types import TypeDeserializer
from rich.console import Console
from rich.table import Table

from linkflow.local import LocalStack, LocalStackConfig, process
from linkflow.local.client import execution_arn, wait_for_execution
from linkflow.local.exports import export_lines
from linkflow.local.internal_log import route_to_file
from linkflow.local.process import KeptStack, free_port
from linkflow.ops.render import cause_text
from linkflow.ops.timeline import build_timeline

_DESERIALIZE = TypeDeserializer()
PASSWORD = "Corr3ct-Horse-Battery!"
EPOCH_FIELDS = ("trial_expires_at", "current_period_end", "trial_end")  # epoch seconds in the records


def _when(value: Any) -> str:
    """An epoch-seconds field as a time people read (UTC)."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(value)))
    except (TypeError, ValueError):
        return str(value)


def _readable(node: Any) -> Any:
    """Records with their epoch-seconds fields shown as times."""
    if isinstance(node, dict):
        return {k: _when(v) if k in EPOCH_FIELDS and v else _readable(v) for k, v in node.items()}
    return node


class Demo:
    def __init__(self, stack: LocalStack | KeptStack, console: Console, graph_dir: Path = Path(".linkflow")):
        self.graph_dir = graph_dir
        self.stack = stack
        self.admin = stack.admin
        self.console = console
        self.sfn = stack.client("stepfunctions")
        self.cognito = stack.client("cognito-idp")
        self.ddb = stack.client("dynamodb")
        self.stripe = stripe.StripeClient(stack.info["stripe"]["api_key"], base_addresses={"api": stack.stripe_url})
        self.outputs = stack.info["outputs"]
        self.problems: list[str] = []

    # -- steps ----------------------------------------------------------------------------------
    def sign_up(self, given: str, family: str) -> tuple[str, str]:
        email = f"{given.lower()}.{uuid.uuid4().hex[:6]}@example.com"
        sub = self.cognito.sign_up(
            ClientId=self.stack.info["cognito"]["client_id"], Username=email, Password=PASSWORD,
            UserAttributes=[{"Name": "given_name", "Value": given}, {"Name": "family_name", "Value": family}],
        )["UserSub"]
        self.cognito.admin_confirm_sign_up(UserPoolId=self.stack.info["cognito"]["user_pool_id"], Username=sub)
        self.console.print(f"signed up and confirmed [bold]{email}[/] (sub {sub})")
        return sub, email

    def execution_arn(self, sub: str) -> str:
        return execution_arn(self.outputs["OnboardingStateMachineArn"], sub)

    def wait(self, arn: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for_execution(self.sfn, arn, timeout=timeout, poll=0.05)

    def show_execution(self, arn: str) -> None:
        desc = self.sfn.describe_execution(executionArn=arn)
        events: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            events.extend(page["events"])
        timeline = build_timeline(events)
        started = desc["startDate"].astimezone(UTC).strftime("%H:%M:%S UTC")
        table = Table(title=f"{desc['name']}  {desc['status']}  started {started}  "
                            f"redrives: {desc.get('redriveCount', 0)}")
        for column in ("state", "status", "ms", "attempts", "errors"):
            table.add_column(column)
        redrives = [e["timestamp"] for e in timeline.events if e["type"] == "ExecutionRedriven"]
        for run in timeline.states:
            while redrives and redrives[0] <= run.entered:
                redrives.pop(0)
                table.add_row("[dim]-- ExecutionRedriven --[/]", "", "", "", "")
            errors = ", ".join(sorted({a.error for a in run.attempts if a.error})) or (run.error or "")
            duration = f"{run.duration_ms:.0f}" if run.duration_ms is not None else "-"
            table.add_row(run.name, run.status, duration, str(max(1, len(run.attempts))), errors)
        self.console.print(table)
        if desc["status"] == "FAILED":  # as `linkflow executions show` prints it (docs/runbook.md)
            where = f" at {timeline.failed_state}" if timeline.failed_state else ""
            self.console.print(f"[red]failed{where}[/] with [bold]{desc.get('error')}[/]: "
                               f"{cause_text(desc.get('cause'))}", highlight=False)

    def records(self, sub: str) -> dict[str, Any]:
        def get(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
            item = self.ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
            return {k: _DESERIALIZE.deserialize(v) for k, v in item.items()} if item else None

        profile = get(self.outputs["UserProfilesTableName"], {"userId": {"S": sub}})
        entitlement = get(self.outputs["EntitlementsTableName"], {"cognito_sub": {"S": sub}})
        customer = None
        if profile and profile.get("stripeCustomerId"):
            c = self.stripe.customers.retrieve(profile["stripeCustomerId"])
            customer = {"id": c.id, "email": c.email, "metadata": dict(c.metadata or {})}
        return {"profile": profile, "entitlement": entitlement, "stripe_customer": customer}

    def show_records(self, sub: str) -> dict[str, Any]:
        records = self.records(sub)
        self.console.print_json(json.dumps(_readable(records), default=str))
        return records

    def expect(self, ok: bool, what: str) -> None:
        mark = "[green]ok[/]" if ok else "[red]NOT OK[/]"
        self.console.print(f"  {mark}  {what}")
        if not ok:
            self.problems.append(what)

    # -- scenarios ------------------------------------------------------------------------------
    def settle(self, timeout: float = 60) -> None:
        """Stripe's webhooks delivered and every subscription-events execution finished."""
        self.admin.wait_for_webhooks(timeout)
        machine = self.outputs["SubscriptionEventsStateMachineArn"]
        deadline = time.monotonic() + timeout
        while self.sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
            if time.monotonic() > deadline:
                raise TimeoutError("subscription-events executions still running")
            time.sleep(0.05)
        self.admin.wait_for_webhooks(timeout)

    def scenario_signup(self) -> None:
        self.console.rule("1. Native sign-up → onboarding")
        sub, email = self.sign_up("Ada", "Lovelace")
        arn = self.execution_arn(sub)
        desc = self.wait(arn)
        self.show_execution(arn)
        records = self.show_records(sub)
        customer = records["stripe_customer"] or {}
        self.expect(desc["status"] == "SUCCEEDED", "execution SUCCEEDED")
        self.expect(bool(records["profile"]) and records["profile"]["email"] == email, "profile with the email")
        self.expect((records["entitlement"] or {}).get("status") == "none", "entitlement status none")
        self.expect(customer.get("metadata", {}).get("cognito_sub") == sub, "Stripe customer linked by metadata")
        self.first_user: tuple[str, str | None] = (sub, customer.get("id"))

    def scenario_outage(self) -> None:
        self.console.rule("2. Stripe outage → failure at the Stripe task → redrive")
        self.admin.add_stripe_fault({"method": "POST", "path": "/v1/customers", "status": 500,
                                     "until": int(time.time()) + 3600})
        self.console.print("Stripe emulator: POST /v1/customers answers 500 for the next hour")
        sub, _ = self.sign_up("Grace", "Hopper")
        arn = self.execution_arn(sub)
        desc = self.wait(arn, timeout=120)
        self.show_execution(arn)
        before = self.show_records(sub)
        self.expect(desc["status"] == "FAILED", "execution FAILED after its retry budget")
        self.expect(bool(before["profile"]) and bool(before["entitlement"]), "profile and entitlement exist anyway")
        self.admin.clear_stripe_faults()
        self.console.print("Stripe is back (faults cleared); redriving the same execution")
        self.sfn.redrive_execution(executionArn=arn)
        desc = self.wait(arn)
        self.show_execution(arn)
        after = self.show_records(sub)
        self.expect(desc["status"] == "SUCCEEDED" and desc.get("redriveCount") == 1,
                    "same ARN SUCCEEDED after one redrive")
        self.expect(bool((after["profile"] or {}).get("stripeCustomerId")), "profile gained stripeCustomerId")
        self.draw(arn)

    def draw(self, arn: str) -> None:
        """The run as a picture (linkflow executions show <x> --graph): SVG, or Mermaid without dot."""
        from linkflow.ops import graph
        from linkflow.ops.timeline import build_timeline

        desc = self.sfn.describe_execution(executionArn=arn)
        definition = json.loads(self.sfn.describe_state_machine(stateMachineArn=desc["stateMachineArn"])["definition"])
        events = [e for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
                  for e in page["events"]]
        tl = build_timeline(events)
        drawn = graph.build(definition, tl, tl.failed_state)
        self.graph_dir.mkdir(parents=True, exist_ok=True)
        try:
            written = graph.render(drawn, self.graph_dir / "demo-outage-run.svg")
        except RuntimeError:
            written = self.graph_dir / "demo-outage-run.mmd"
            written.write_text(graph.mermaid(drawn))
        self.console.print(f"the run drawn (path, retries, failure, redrive): {written}")


    def scenario_subscription(self) -> None:
        self.console.rule("3. Subscription with a trial → Stripe webhooks → entitlement")
        sub, customer_id = self.first_user
        assert customer_id, "scenario 1 left its user without a Stripe customer"
        product = self.stripe.v1.products.create(params={"name": "linkflow Pro", "metadata": {"plan": "pro"}})
        price = self.stripe.v1.prices.create(params={
            "product": product.id, "unit_amount": 1500, "currency": "usd", "recurring": {"interval": "month"},
            "lookup_key": f"pro_monthly_{uuid.uuid4().hex[:6]}"})
        card = self.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": customer_id})
        subscription = self.stripe.v1.subscriptions.create(params={
            "customer": customer_id, "items": [{"price": price.id}], "trial_period_days": 14,
            "default_payment_method": card.id})
        self.console.print(f"stripe SDK: subscription {subscription.id} created with a 14-day trial "
                           f"({subscription.status})")
        self.settle()
        before = self.records(sub)["entitlement"] or {}
        self.admin.advance_emulator_clock(15 * 86400)
        self.console.print("emulator clock advanced 15 days: the trial ends and the first invoice is paid")
        self.settle()
        after = self.records(sub)["entitlement"] or {}
        table = Table(title=f"entitlement of {sub}")
        for column in ("field", "before (trial)", "after (trial ended)"):
            table.add_column(column)
        for field in ("status", "plan", "trial_expires_at", "current_period_end", "subscriptionId", "syncVersion"):
            show = _when if field in EPOCH_FIELDS else str
            table.add_row(field, show(before.get(field, "-")), show(after.get(field, "-")))
        self.console.print(table)
        self.expect(before.get("status") == "trialing" and before.get("plan") == "pro",
                    "trialing on plan pro while the trial runs")
        self.expect(bool(before.get("trial_expires_at")), "trial_expires_at recorded")
        self.expect(after.get("status") == "active", "active once the trial ended")
        self.expect(int(after.get("current_period_end") or 0) > int(before.get("trial_expires_at") or 0),
                    "current_period_end after the trial end")


    def app_api(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """The app's API as a frontend calls it: the access token as a bearer token."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.stack.api_url}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read() or b"{}")

    def scenario_checkout(self) -> None:
        self.console.rule("4. Checkout through the app's API → pay → entitlement on GET /me")
        sub, email = self.sign_up("Katherine", "Johnson")
        self.wait(self.execution_arn(sub))
        tokens = self.cognito.initiate_auth(ClientId=self.stack.info["cognito"]["client_id"],
                                            AuthFlow="USER_PASSWORD_AUTH",
                                            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
        access = tokens["AuthenticationResult"]["AccessToken"]
        self.console.print("signed in with InitiateAuth USER_PASSWORD_AUTH: an access token for the app's API")
        price = self.stack.info["stripe"].get("prices", ["pro_monthly"])[0]
        status, answer = self.app_api("POST", "/billing/checkout-session", access, {"price": price})
        self.console.print(f"POST /billing/checkout-session {{\"price\": \"{price}\"}} → {status} {answer}")
        self.expect(status == 200 and "url" in answer, "a Checkout Session url")
        if status != 200:
            return
        status, again = self.app_api("POST", "/billing/checkout-session", access, {"price": price})
        self.expect(again == answer, "a second click gets the same session")
        unauthorized = self.app_api("GET", "/me", tokens["AuthenticationResult"]["IdToken"])
        self.expect(unauthorized == (403, {"message": "Forbidden"}), "an ID token is refused (403, no scope)")
        paid = _post_form(answer["url"], {"card_number": "4242424242424242"})
        self.console.print(f"paid on the hosted checkout page with 4242 4242 4242 4242 → {paid[0]} to {paid[1]}")
        self.expect(paid[0] == 303 and paid[1].startswith(f"{self.stack.api_url}/app/"), "redirected to the app")
        self.settle()
        deadline = time.monotonic() + 30
        me: Any = {}
        while time.monotonic() < deadline:
            me = self.app_api("GET", "/me", access)[1]
            if me.get("entitlement", {}).get("status") == "active" and me["entitlement"].get("features"):
                break
            time.sleep(0.2)
        self.console.print_json(json.dumps(_readable(me)))  # epoch fields shown as times
        entitlement = me.get("entitlement") or {}
        self.expect(entitlement.get("status") == "active", "GET /me: entitlement active")
        self.expect(bool(entitlement.get("features")), f"GET /me: features {entitlement.get('features')}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post_form(url: str, fields: dict[str, str]) -> tuple[int, str]:
    """POST a form as a browser submits it; the status and where it redirects."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST")
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as redirect:
        return redirect.code, redirect.headers.get("Location", "")


def run_demo(wait_time_scale: float = 0.01, keep: bool = False, state_dir: Path = Path(".linkflow")) -> int:
    """The scenarios on a stack of their own (in-process, gone at the end); with ``keep``, on a
    background stack from ``state_dir`` that stays up (``linkflow local down`` stops it)."""
    console = Console()
    if keep:
        return _run_kept(console, wait_time_scale, state_dir)
    with tempfile.TemporaryDirectory(prefix="linkflow-demo-") as tmp:
        config = LocalStackConfig(state_dir=Path(tmp), aws_port=free_port(), stripe_port=free_port(),
                                  api_port=free_port(), wait_time_scale=wait_time_scale,
                                  lambda_log=Path(tmp) / "lambda.log")
        console.print(f"starting the local stack (wait-time scale {wait_time_scale}) ...")
        log = route_to_file(Path(tmp) / process.LOG_FILE)  # moto's internals, never the demo's output
        try:
            with LocalStack(config) as stack:
                route_to_file(Path(tmp) / process.LOG_FILE)  # the servers' console handlers, once started
                demo = _scenarios(stack, console)
        finally:
            logging.getLogger().removeHandler(log)
            log.close()
    return _verdict(demo, console)


def _scenarios(stack: LocalStack | KeptStack, console: Console) -> Demo:
    demo = Demo(stack, console)
    demo.scenario_signup()
    demo.scenario_outage()
    demo.scenario_subscription()
    demo.scenario_checkout()
    return demo


def _run_kept(console: Console, wait_time_scale: float, state_dir: Path) -> int:
    running = process.running_stack(state_dir)
    if running is not None:
        console.print(f"[red]a local stack already runs from {state_dir} (pid {running.pid})[/]: "
                      "`linkflow local down` stops it")
        return 2
    console.print(f"starting a local stack in the background (wait-time scale {wait_time_scale}) ...")
    args = ["--aws-port", str(free_port()), "--stripe-port", str(free_port()), "--api-port", str(free_port()),
            "--state-dir", str(state_dir), "--wait-time-scale", str(wait_time_scale)]
    try:
        stack = KeptStack(process.start_detached(args, state_dir))
    except process.DetachFailed as exc:
        console.print(f"[red]{exc}[/]", markup=False)
        return 1
    demo = _scenarios(stack, console)
    console.rule("The stack keeps running: explore it")
    console.print("\n".join(export_lines(stack.info)), markup=False, highlight=False, soft_wrap=True)
    down = "linkflow local down" + ("" if state_dir == Path(".linkflow") else f" --state-dir {state_dir}")
    console.print(f"# pid {stack.pid}, log {state_dir}/{process.LOG_FILE}\n"
                  "# try `linkflow executions list`, `linkflow users show <email>`, `aws dynamodb list-tables`\n"
                  f"# stop it with `{down}`", markup=False, highlight=False, soft_wrap=True)
    return _verdict(demo, console)


def _verdict(demo: Demo, console: Console) -> int:
    if demo.problems:
        console.print(f"[red]demo finished with {len(demo.problems)} problem(s):[/] " + "; ".join(demo.problems))
        return 1
    console.print("[green]demo finished: every expectation held[/]")
    return 0
