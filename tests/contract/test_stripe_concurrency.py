"""Many SDK clients at once (as many Lambda handlers would be)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import stripe
from conftest import Admin, make_client

from linkflow.stripe_emulator import EmulatorServer

THREADS = 8


def test_concurrent_creates_all_land(emulator: EmulatorServer, client: stripe.StripeClient, monthly_price) -> None:
    def work(worker: int) -> list[str]:
        own = make_client(emulator.url)
        made = []
        for i in range(15):
            customer = own.v1.customers.create(params={"email": f"w{worker}.{i}@example.com",
                                                       "payment_method": "pm_card_visa"})
            own.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
            made.append(customer.id)
        return made

    with ThreadPoolExecutor(THREADS) as pool:
        created = [cid for ids in pool.map(work, range(THREADS)) for cid in ids]
    assert len(set(created)) == THREADS * 15
    listed = [c.id for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter()]
    assert sorted(listed) == sorted(created)
    subs = list(client.v1.subscriptions.list(params={"limit": 100, "status": "active"}).auto_paging_iter())
    assert len(subs) == THREADS * 15


def test_racing_requests_with_one_key_create_one_customer(emulator: EmulatorServer, admin: Admin) -> None:
    def create(_: int) -> str:
        own = make_client(emulator.url, retries=5)  # the SDK retries the 409 of a key in flight
        return str(own.v1.customers.create(params={"email": "race@example.com"},
                                           options={"idempotency_key": "race-key"}).id)

    with ThreadPoolExecutor(THREADS) as pool:
        ids = set(pool.map(create, range(THREADS)))
    assert len(ids) == 1
    statuses = {r["status"] for r in admin.get("requests")["data"] if r["method"] == "POST"}
    assert statuses <= {200, 409}
