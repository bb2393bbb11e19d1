"""In-memory object store: one insertion-ordered table per object kind.

Records are Stripe-shaped dicts. Keys starting with ``_`` are the emulator's own bookkeeping and
never leave the process (``public()`` drops them). Callers hold ``EmulatorState.lock``.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from typing import Any

_ALPHABET = string.ascii_letters + string.digits
_rng = random.Random()  # ids need to be unique, not secret

ID_PREFIXES = {
    "cus": "customer",
    "prod": "product",
    "price": "price",
    "sub": "subscription",
    "in": "invoice",
    "evt": "event",
    "we": "webhook_endpoint",
    "clock": "test_clock",
    "cs": "checkout_session",
    "pm": "payment_method",
    "feat": "entitlement_feature",
    "bpc": "billing_portal_configuration",
    "bps": "billing_portal_session",
    "ii": "invoiceitem",
    "pi": "payment_intent",
    "ch": "charge",
    "re": "refund",
    "inpay": "invoice_payment",
    "seti": "setup_intent",
    "di": "discount",
    "promo": "promotion_code",
}


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(_rng.choices(_ALPHABET, k=length))}"


def kind_of(object_id: str) -> str | None:
    prefix = object_id.split("_", 1)[0]
    if object_id.startswith("cs_test_"):
        return "checkout_session"
    return ID_PREFIXES.get(prefix)


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a record without the emulator's private (``_``-prefixed) top-level keys."""
    visible = {k: v for k, v in record.items() if not k.startswith("_")}
    copied: dict[str, Any] = json.loads(json.dumps(visible))  # the C codec deep-copies faster than deepcopy
    return copied


class Store:
    def __init__(self) -> None:
        self._tables: dict[str, dict[str, dict[str, Any]]] = {}

    def table(self, kind: str) -> dict[str, dict[str, Any]]:
        return self._tables.setdefault(kind, {})

    def put(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        self.table(kind)[record["id"]] = record
        return record

    def get(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return self.table(kind).get(object_id)

    def remove(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return self.table(kind).pop(object_id, None)

    def newest_first(self, kind: str) -> Iterator[dict[str, Any]]:
        """The records that are not deleted (those are kept only to answer their stub)."""
        rows = [r for r in self.table(kind).values() if not r.get("_deleted")]  # callers may change the table
        return iter(rows[::-1])

    def clear(self) -> None:
        self._tables.clear()
