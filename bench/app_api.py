"""``me_ms`` vs ``me_floor_ms`` and ``stripe_requests_per_checkout``: the app's API (#13).

``GET {api}/me`` with a real access token (the local gateway verifies the JWT against the pool's
JWKS, then the handler reads the profile and the entitlement), timed at the client one request at
a time, alternating with ``GET {api}/_linkflow/ping`` on the same HTTP server (200, no Lambda call,
no authorizer): p99 ratio target ≤ 3. One warm-up pair is not counted.
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
        for i in range(run.sizes.webhook_pairs + 1):
            a = _get(http, f"{api}/me", auth)
            b = _get(http, stack.local.ping_url, {}, method="POST")
            if i:
                me_ms.append(a)
                floor_ms.append(b)
        price = (stack.info["stripe"].get("prices") or ["pro_monthly"])[0]
        checkout, body = {**auth, "Content-Type": "application/json"}, f'{{"price": "{price}"}}'
        http.post(f"{api}/billing/checkout-session", content=body, headers=checkout).raise_for_status()
        before = len(stack.local.stripe_requests())
        http.post(f"{api}/billing/checkout-session", content=body, headers=checkout).raise_for_status()
        calls = len(stack.local.stripe_requests()) - before
    me = latency(me_ms, "GET /me with the user's access token (JWT verified, profile and entitlement read), "
                 "one at a time")
    base = latency(floor_ms, "POST /_linkflow/ping on the same API server: 200, no authorizer, no Lambda")
    return {
        "me_ms": me,
        "me_floor_ms": base,
        "me_ratio_p99": value("ratio", me["p99"] / base["p99"], "GET /me p99 / floor p99",
                              target=("<=", TARGET_RATIO), digits=2),
        "stripe_requests_per_checkout": value("count", calls, "/v1 requests for one checkout of a linked user, "
                                              "after one warm-up checkout", target=("<=", 1), digits=0),
    }
