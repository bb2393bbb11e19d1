"""Contract suite fixtures: one emulator per session, reset before every test, driven by the SDK.

Every answer the SDK receives (and every webhook the receiver gets) is recorded and checked
against Stripe's reference shapes after each test (``stripe_shapes.py``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe
from stripe_shapes import violations

from linkflow.stripe_emulator import EmulatorServer

API_KEY = "sk_test_contract"
WAIT_SECONDS = 10.0

RECORDED: list[tuple[str, Any]] = []
_recorded_lock = threading.Lock()


def record(where: str, raw: bytes | str) -> None:
    try:
        body = json.loads(raw)
    except ValueError:
        body = {"unparseable": str(raw)[:200]}
    with _recorded_lock:
        RECORDED.append((where, body))


class RecordingClient(stripe.RequestsClient):
    """The SDK's default HTTP client, keeping a copy of every answer for the shape checks."""

    def request(self, method, url, headers, post_data=None):  # type: ignore[no-untyped-def]
        content, status, response_headers = super().request(method, url, headers, post_data)
        record(f"{method.upper()} {url} -> {status}", content)
        return content, status, response_headers


def make_client(url: str, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": url}, max_network_retries=retries,
                               http_client=RecordingClient())


def attach(client: stripe.StripeClient, customer_id: str, token: str) -> str:
    """Attach test token ``token`` (``pm_card_visa``) to the customer: the new ``pm_`` id, as on Stripe."""
    return str(client.v1.payment_methods.attach(token, params={"customer": customer_id}).id)


class Admin:
    """The emulator's admin API (plain JSON over HTTP; not part of Stripe)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"/_emulator/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.call("POST", path, body or {})

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def wait_webhooks(self) -> None:
        answer = self.post("webhooks/wait", {"timeout": WAIT_SECONDS})
        assert answer["idle"], f"webhook deliveries still pending after {WAIT_SECONDS}s: {answer}"


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0) as server:
        yield server


@pytest.fixture(scope="session")
def admin(emulator: EmulatorServer) -> Iterator[Admin]:
    client = Admin(emulator.url)
    yield client
    client.http.close()


@pytest.fixture(autouse=True)
def fresh_emulator(admin: Admin) -> Iterator[None]:
    """Each test starts from an empty emulator and ends with every recorded answer checked."""
    admin.post("reset")
    with _recorded_lock:
        RECORDED.clear()
    yield
    with _recorded_lock:
        recorded = list(RECORDED)
    problems = [f"{where}: {problem}" for where, body in recorded for problem in violations(body)]
    assert not problems, "answers that break Stripe's reference shapes:\n" + "\n".join(problems[:30])


@pytest.fixture
def client(emulator: EmulatorServer) -> stripe.StripeClient:
    return make_client(emulator.url)


@pytest.fixture
def retrying_client(emulator: EmulatorServer) -> stripe.StripeClient:
    return make_client(emulator.url, retries=3)


@pytest.fixture
def raw(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """Plain HTTP to the emulator, for what the SDK cannot show (headers, malformed requests)."""
    with httpx.Client(base_url=emulator.url, timeout=30) as http:
        yield http


class Receiver:
    """A webhook endpoint on 127.0.0.1: records deliveries; can fail or hold them on request."""

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self.failures_left = 0
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.gate.wait(WAIT_SECONDS)
                with receiver.lock:
                    fail = receiver.failures_left > 0
                    receiver.failures_left -= fail
                    receiver.deliveries.append({"headers": dict(self.headers), "body": body, "failed": fail})
                record(f"webhook {self.path}", body)
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stripe/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [d for d in self.deliveries if not d["failed"]]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(d["body"]) for d in self.accepted()]

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def endpoint_secret(client: stripe.StripeClient, receiver: Receiver) -> str:
    """A webhook endpoint for every event, pointing at ``receiver``; returns its signing secret."""
    endpoint = client.v1.webhook_endpoints.create(params={"url": receiver.url, "enabled_events": ["*"]})
    return str(endpoint.secret)


@pytest.fixture
def monthly_price(client: stripe.StripeClient) -> Any:
    product = client.v1.products.create(params={"name": "Pro", "metadata": {"plan": "pro"}})
    return client.v1.prices.create(params={
        "product": product.id, "unit_amount": 1500, "currency": "usd",
        "recurring": {"interval": "month"}, "lookup_key": "pro_monthly",
    })
