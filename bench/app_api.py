"""``me_ms`` vs ``me_floor_ms`` and ``stripe_requests_per_checkout``: the app's API (#13).

``GET {api}/me`` with a real access token, timed at the client one request at a time on one
kept-alive connection: the local gateway verifies the JWT against the pool's JWKS (keys fetched
once and cached, as API Gateway does), hands the event to a worker thread, invokes the warm
``get-me`` worker through its Runtime API, and the handler reads the profile and the entitlement
(one ``TransactGetItems`` over HTTP to moto). Each ``/me`` is paired with ``POST
{api}/_linkflow/ping`` on the same HTTP server and the same Starlette app (200 from the event loop:
no authorizer, no worker thread, no Lambda): samples alternate ``/me`` / floor so the machine's
noise weighs on both alike. The first ``/me`` starts the worker process (a cold start: the
interpreter, the imports, the first clients); it is reported apart as ``cold_start_ms`` and never
counted, and ``WARMUP_PAIRS`` more pairs are not counted either. p99 ratio target ≤ 3.
``stripe_requests_per_checkout``: ``/v1`` requests the emulator served for one
``POST /billing/checkout-session`` of a user whose profile links a customer, after one warm-up
checkout (the price lookup is cached per warm function): target 1.
"""

from __future__ import annotations

import time
import uuid

import httpx

from linkflow.local.client import execution_arn, wait_for_execution

from .context import Run
from .results import Figure, latency, value

TARGET_RATIO = 3.0
WARMUP_PAIRS = 3  # after the cold start, not counted: the connections and caches of a warm worker
PASSWORD = "Corr3ct-Horse-Battery!"
NAMES = ("me_ms", "me_floor_ms", "me_ratio_p99", "stripe_requests_per_checkout")


def _signed_in_user(run: Run) -> str:
    """An onboarded user's access token (sign-up, confirm, onboarding SUCCEEDED, InitiateAuth)."""
    stack = run.stack
    idp, client_id = stack.client("cognito-idp"), stack.info["cognito"]["client_id"]
    email = f"bench.app.{uuid.uuid4().hex[:10]}@example.com"
    sub = idp.sign_up(ClientId=client_id, Username=email, Password=PASSWORD)["UserSub"]
    idp.admin_confirm_sign_up(UserPoolId=stack.info["cognito"]["user_pool_id"], Username=sub)
    arn = execution_arn(stack.outputs["OnboardingStateMachineArn"], sub)
    desc = wait_for_execution(stack.client("stepfunctions"), arn, timeout=60)
    if desc["status"] != "SUCCEEDED":
        raise RuntimeError(f"the bench user's onboarding ended {desc['status']}")
    tokens = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
    return str(tokens["AuthenticationResult"]["AccessToken"])


def _get(http: httpx.Client, url: str, headers: dict[str, str], method: str = "GET") -> float:
    start = time.perf_counter()
    answer = http.request(method, url, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:200]}")
    return elapsed


def measure(run: Run) -> dict[str, Figure]:
    stack = run.stack
    token = _signed_in_user(run)
    api, auth = stack.process.api_url, {"Authorization": f"Bearer {token}"}
    me_ms: list[float] = []
    floor_ms: list[float] = []
    with httpx.Client(timeout=30) as http:
        cold_ms = _get(http, f"{api}/me", auth)  # starts the get-me worker
        for i in range(WARMUP_PAIRS + run.sizes.webhook_pairs):
            a = _get(http, f"{api}/me", auth)
            b = _get(http, stack.local.ping_url, {}, method="POST")
            if i >= WARMUP_PAIRS:
                me_ms.append(a)
                floor_ms.append(b)
        price = (stack.info["stripe"].get("prices") or ["pro_monthly"])[0]
        checkout, body = {**auth, "Content-Type": "application/json"}, f'{{"price": "{price}"}}'
        http.post(f"{api}/billing/checkout-session", content=body, headers=checkout).raise_for_status()
        before = len(stack.local.stripe_requests())
        http.post(f"{api}/billing/checkout-session", content=body, headers=checkout).raise_for_status()
        calls = len(stack.local.stripe_requests()) - before
    me = latency(me_ms, "GET /me with the user's access token on a warm worker (JWT verified, profile and "
                 f"entitlement read in one TransactGetItems), one at a time, after the cold start and {WARMUP_PAIRS} "
                 "warm-up pairs", cold_start_ms=round(cold_ms, 1))
    base = latency(floor_ms, "POST /_linkflow/ping on the same API server and app, alternating with GET /me: 200 "
                   "from the event loop, no authorizer, no worker thread, no Lambda")
    return {
        "me_ms": me,
        "me_floor_ms": base,
        "me_ratio_p99": value("ratio", me["p99"] / base["p99"], "GET /me p99 / floor p99",
                              target=("<=", TARGET_RATIO), digits=2,
                              # the p99 of each is a handful of the slowest samples: on a loaded
                              # machine a stall in either moves it; the p50 ratio says more there
                              ratio_p50=round(me["p50"] / base["p50"], 2)),
        "stripe_requests_per_checkout": value("count", calls, "/v1 requests for one checkout of a linked user, "
                                              "after one warm-up checkout", target=("<=", 1), digits=0),
    }
