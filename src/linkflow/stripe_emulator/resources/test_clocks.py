"""Test clocks: frozen time for their customers' objects; advancing one replays what falls due.

``advance`` runs synchronously and answers ``status: advancing`` as Stripe does; the clock reads
``ready`` on the next retrieve, so code that polls for ``ready`` works unchanged. Advancing also
expires the open Checkout Sessions of the clock's customers whose ``expires_at`` it passed.
"""

from __future__ import annotations

from typing import Any

from ..call import Call, system_call
from ..endpoints import Route, crud_routes
from ..errors import invalid_request, missing_param
from ..events import emit
from ..forms import as_int, blank_to_none
from ..lists import page
from ..lookup import get_or_404
from ..params import LIST, accepts
from ..render import deleted_stub
from ..state import EmulatorState
from ..store import new_id, public
from . import billing, checkout

KIND = "test_clock"
LIFETIME = 30 * billing.DAY


def _get(call: Call, clock_id: str) -> dict[str, Any]:
    return get_or_404(call, KIND, clock_id, label="test_helpers.test_clock")


@accepts("frozen_time", "name")
def create(call: Call) -> dict[str, Any]:
    if "frozen_time" not in call.params:
        raise missing_param("frozen_time")
    now = call.now()
    clock = {
        "id": new_id("clock"), "object": "test_helpers.test_clock", "created": now,
        "deletes_after": now + LIFETIME, "frozen_time": as_int(call.params["frozen_time"], "frozen_time"),
        "livemode": False, "name": blank_to_none(call.params.get("name")), "status": "ready",
        "status_details": {},
    }
    call.state.store.put(KIND, clock)
    emit(call, "test_helpers.test_clock.created", KIND, clock, created=now)
    return public(clock)


@accepts()
def retrieve(call: Call, clock_id: str) -> dict[str, Any]:
    return public(_get(call, clock_id))


@accepts(*LIST)
def list_clocks(call: Call) -> dict[str, Any]:
    rows = call.state.store.newest_first(KIND)
    return page(call, rows, "/v1/test_helpers/test_clocks", public, "test_helpers.test_clock")


def _customer_ids(state: EmulatorState, clock_id: str) -> set[str]:
    return {c["id"] for c in state.store.table("customer").values() if c.get("test_clock") == clock_id}


@accepts("frozen_time")
def advance(call: Call, clock_id: str) -> dict[str, Any]:
    clock = _get(call, clock_id)
    if "frozen_time" not in call.params:
        raise missing_param("frozen_time")
    target = as_int(call.params["frozen_time"], "frozen_time")
    if target <= clock["frozen_time"]:
        raise invalid_request("The frozen_time must be after the test clock's current frozen_time.",
                              param="frozen_time")
    clock["status"] = "advancing"
    emit(call, "test_helpers.test_clock.advancing", KIND, clock, created=call.now())
    answer = {**public(clock), "frozen_time": target}
    customers = _customer_ids(call.state, clock_id)
    engine = system_call(call.state)
    billing.advance(engine, lambda: [s for s in call.state.store.table("subscription").values()
                                     if s["customer"] in customers], target,
                    lambda: [i for i in call.state.store.newest_first("invoice") if i["customer"] in customers])
    clock.update(frozen_time=target, status="ready")
    checkout.expire_due(engine, test_clock=clock_id)
    emit(call, "test_helpers.test_clock.ready", KIND, clock, created=call.now())
    return answer


@accepts(expand=False)
def delete(call: Call, clock_id: str) -> dict[str, Any]:
    """Delete a clock with everything attached to it, as Stripe does (no events for those)."""
    clock = _get(call, clock_id)
    customers = _customer_ids(call.state, clock_id)
    for sub in call.state.store.table("subscription").values():
        if sub["customer"] in customers and sub["status"] not in ("canceled", "incomplete_expired"):
            sub.update(status="canceled", canceled_at=clock["frozen_time"], ended_at=clock["frozen_time"])
    for customer_id in customers:
        customer = call.state.store.get("customer", customer_id)
        if customer is not None:
            customer["_deleted"] = True
    emit(call, "test_helpers.test_clock.deleted", KIND, clock, created=call.now())
    clock["_deleted"] = True
    return deleted_stub(clock)


def advance_emulator_time(state: EmulatorState, seconds: float) -> int:
    """Move emulator time forward and run what falls due for customers without a test clock."""
    state.clock.advance(seconds)
    engine = system_call(state)
    steps = billing.advance(engine, lambda: [s for s in state.store.table("subscription").values()
                                             if not s.get("test_clock")], state.clock.now_int(),
                            lambda: [i for i in state.store.newest_first("invoice") if not i.get("test_clock")])
    return steps + checkout.expire_due(engine)


ROUTES: list[Route] = [
    *crud_routes("/v1/test_helpers/test_clocks", create=create, list_all=list_clocks, retrieve=retrieve,
                 delete=delete),
    ("POST", "/v1/test_helpers/test_clocks/{id}/advance", advance),
]
