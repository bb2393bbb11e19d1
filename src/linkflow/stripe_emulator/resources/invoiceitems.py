"""Invoice items: one-off charges and the prorations of subscription changes.

An item is pending (``invoice: null``) until an invoice pulls it in: the subscription's next
invoice (renewal, ``always_invoice``), or ``invoices.create`` with
``pending_invoice_items_behavior=include``; ``invoice=in_...`` puts it on that draft at once. An
item on a finalized invoice can no longer change. Events: ``invoiceitem.created``,
``invoiceitem.deleted`` (Stripe sends no ``invoiceitem.updated`` any more).
"""

from __future__ import annotations

from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import invalid_request, missing_param
from ..events import emit
from ..forms import as_bool, as_dict, as_int, blank_to_none, merge_metadata
from ..lists import created_filter, page
from ..lookup import get_or_404, referenced
from ..params import CREATED, LIST, accepts
from ..render import deleted_stub, render
from ..state import EmulatorState
from ..store import new_id
from .clock_time import customer_now

KIND = "invoiceitem"


def price_name(price: dict[str, Any]) -> str:
    return str(price.get("nickname") or price.get("product"))


def new_item(call: Call, customer: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Store a pending item (``build_item``'s fields) and emit ``invoiceitem.created``."""
    item = build_item(customer, **fields)
    call.state.store.put(KIND, item)
    emit(call, "invoiceitem.created", KIND, item, created=item["date"])
    return item


def build_item(customer: dict[str, Any], *, amount: int, currency: str, description: str | None,
               now: int, price: dict[str, Any] | None = None, quantity: int = 1,
               period: tuple[int, int] | None = None, proration: bool = False, sub_id: str | None = None,
               sub_item: str | None = None, metadata: dict[str, str] | None = None,
               discountable: bool | None = None) -> dict[str, Any]:
    """A pending item, not stored (previews use it as it is)."""
    start, end = period or (now, now)
    unit = price.get("unit_amount_decimal") if price else (str(amount // quantity) if quantity else "0")
    item = {
        "id": new_id("ii"), "object": KIND, "amount": amount, "currency": currency, "customer": customer["id"],
        "customer_account": None, "date": now, "description": description,
        "discountable": (not proration) if discountable is None else discountable, "discounts": [],
        "invoice": None, "livemode": False, "metadata": dict(metadata or {}), "net_amount": amount,
        "parent": None if sub_id is None else {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub_id, "subscription_item": sub_item}},
        "period": {"end": end, "start": start},
        "pricing": {"price_details": {"price": price["id"], "product": price["product"]} if price else None,
                    "type": "price_details", "unit_amount_decimal": unit},
        "proration": proration, "quantity": quantity, "quantity_decimal": str(quantity), "tax_rates": [],
        "test_clock": customer.get("test_clock"),
        "_subscription": sub_id, "_sub_item": sub_item,
    }
    return item


def line_for(item: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    """The invoice line an item becomes (a subscription's proration or a one-off item)."""
    sub_id = item["_subscription"]
    if item["_sub_item"]:
        parent: dict[str, Any] = {
            "invoice_item_details": None, "type": "subscription_item_details",
            "subscription_item_details": {"invoice_item": item["id"], "proration": item["proration"],
                                          "proration_details": {"credited_items": None},
                                          "subscription": sub_id, "subscription_item": item["_sub_item"]}}
    else:
        parent = {"subscription_item_details": None, "type": "invoice_item_details",
                  "invoice_item_details": {"invoice_item": item["id"], "proration": item["proration"],
                                           "proration_details": {"credited_items": None},
                                           "subscription": sub_id}}
    return {
        "id": new_id("il"), "object": "line_item", "amount": item["amount"], "currency": item["currency"],
        "description": item["description"], "discount_amounts": [], "discountable": item["discountable"],
        "discounts": list(item["discounts"]), "invoice": invoice_id,
        "livemode": False, "metadata": dict(item["metadata"]), "parent": parent, "period": dict(item["period"]),
        "pretax_credit_amounts": [], "pricing": item["pricing"], "proration": item["proration"],
        "quantity": item["quantity"], "quantity_decimal": item["quantity_decimal"], "subscription": sub_id,
        "subtotal": item["amount"], "taxes": [], "type": "invoiceitem",
    }


def item_of(line: dict[str, Any]) -> str | None:
    """The invoice item a line comes from, if any."""
    parent = line.get("parent") or {}
    details = parent.get("invoice_item_details") or parent.get("subscription_item_details") or {}
    return details.get("invoice_item")


def pending(state: EmulatorState, customer_id: str, currency: str) -> list[dict[str, Any]]:
    return [i for i in state.store.table(KIND).values()
            if i["customer"] == customer_id and i["invoice"] is None and not i.get("_deleted")
            and i["currency"] == currency]


def attach_to(call: Call, item: dict[str, Any], invoice: dict[str, Any]) -> None:
    item["invoice"] = invoice["id"]
    invoice["lines"]["data"].append(line_for(item, invoice["id"]))


def _draft(call: Call, invoice_id: Any, param: str) -> dict[str, Any]:
    invoice = referenced(call, "invoice", invoice_id, param)
    if invoice["status"] != "draft":
        raise invalid_request("You can only add invoice items to draft invoices.", param=param)
    return invoice


def _amount(call: Call, params: dict[str, Any]) -> tuple[int, str, dict[str, Any] | None, int]:
    """(amount, currency, price, quantity) from ``price`` + ``quantity`` or ``amount``/``unit_amount``."""
    quantity = as_int(params.get("quantity", 1), "quantity", minimum=0)
    if params.get("price"):
        if "amount" in params or "unit_amount" in params:
            raise invalid_request("You may only specify one of these parameters: amount, price, unit_amount.")
        price = referenced(call, "price", params["price"], "price")
        if price["type"] != "one_time":
            raise invalid_request("The price specified is a recurring price; invoice items take one-time prices.",
                                  param="price")
        return (price.get("unit_amount") or 0) * quantity, str(price["currency"]), price, quantity
    if not params.get("currency"):
        raise missing_param("currency")
    if "unit_amount" in params:
        return as_int(params["unit_amount"], "unit_amount") * quantity, str(params["currency"]).lower(), None, quantity
    if "amount" not in params:
        raise missing_param("amount")
    return as_int(params["amount"], "amount"), str(params["currency"]).lower(), None, quantity


def _period(value: Any, now: int) -> tuple[int, int]:
    spec = as_dict(value, "period")
    for key in ("start", "end"):
        if key not in spec:
            raise missing_param(f"period[{key}]")
    start, end = as_int(spec["start"], "period[start]"), as_int(spec["end"], "period[end]")
    if end < start:
        raise invalid_request("The period end must be after its start.", param="period[end]")
    return start, end


# Not implemented, so refused: discounts (see coupons), price_data, tax_behavior, tax_code, tax_rates,
# unit_amount_decimal.
@accepts("customer", "amount", "currency", "unit_amount", "price", "quantity", "description", "invoice",
         "subscription", "period[start]", "period[end]", "metadata", "discountable")
def create(call: Call) -> dict[str, Any]:
    from . import invoices  # invoices builds on this module

    params = call.params
    customer = referenced(call, "customer", params.get("customer"), "customer")
    invoice = _draft(call, params["invoice"], "invoice") if params.get("invoice") else None
    sub = referenced(call, "subscription", params["subscription"], "subscription") if params.get(
        "subscription") else None
    amount, currency, price, quantity = _amount(call, params)
    if invoice is not None and invoice["currency"] != currency:
        raise invalid_request("The currency of an invoice item must match its invoice's.", param="currency")
    now = customer_now(call.state, customer)
    item = new_item(call, customer, amount=amount, currency=currency, now=now, price=price, quantity=quantity,
                    description=blank_to_none(params.get("description")) or (price_name(price) if price else None),
                    period=_period(params["period"], now) if "period" in params else None,
                    sub_id=sub["id"] if sub else None, metadata=merge_metadata({}, params.get("metadata", {})),
                    discountable=as_bool(params.get("discountable", "true"), "discountable"))
    if invoice is not None:
        attach_to(call, item, invoice)
        invoices.recompute(call, invoice)
    return render(call.state, KIND, item)


@accepts()
def retrieve(call: Call, item_id: str) -> dict[str, Any]:
    return render(call.state, KIND, get_or_404(call, KIND, item_id, include_deleted=True))


def _editable(call: Call, item: dict[str, Any]) -> dict[str, Any] | None:
    """The draft invoice an item is on (None if pending); refuses an item on a finalized invoice."""
    if item["invoice"] is None:
        return None
    invoice = call.state.store.get("invoice", item["invoice"])
    if invoice is None or invoice["status"] != "draft":
        raise invalid_request("Invoice items on a finalized invoice cannot be changed or deleted.")
    return invoice


def _refresh_line(call: Call, item: dict[str, Any], invoice: dict[str, Any] | None, remove: bool = False) -> None:
    from . import invoices

    if invoice is None:
        return
    lines = invoice["lines"]["data"]
    index = next(i for i, line in enumerate(lines) if item_of(line) == item["id"])
    if remove:
        del lines[index]
    else:
        lines[index] = {**line_for(item, invoice["id"]), "id": lines[index]["id"]}
    invoices.recompute(call, invoice)


@accepts("amount", "unit_amount", "quantity", "description", "metadata", "discountable", "period[start]",
         "period[end]")
def update(call: Call, item_id: str) -> dict[str, Any]:
    item = get_or_404(call, KIND, item_id)
    invoice = _editable(call, item)
    params = call.params
    if "quantity" in params or "unit_amount" in params or "amount" in params:
        price_id = (item["pricing"]["price_details"] or {}).get("price")
        price = call.state.store.get("price", price_id) if price_id else None
        quantity = as_int(params.get("quantity", item["quantity"]), "quantity", minimum=0)
        if "amount" in params:
            amount = as_int(params["amount"], "amount")
        else:
            current = price.get("unit_amount") if price else item["pricing"]["unit_amount_decimal"]
            unit = params.get("unit_amount", current)
            amount = as_int(unit, "unit_amount") * quantity
        item.update(amount=amount, net_amount=amount, quantity=quantity, quantity_decimal=str(quantity))
    if "description" in params:
        item["description"] = blank_to_none(params["description"])
    if "metadata" in params:
        item["metadata"] = merge_metadata(item["metadata"], params["metadata"])
    if "discountable" in params:
        item["discountable"] = as_bool(params["discountable"], "discountable")
    if "period" in params:
        start, end = _period(params["period"], item["date"])
        item["period"] = {"end": end, "start": start}
    _refresh_line(call, item, invoice)
    return render(call.state, KIND, item)


@accepts(expand=False)
def delete(call: Call, item_id: str) -> dict[str, Any]:
    item = get_or_404(call, KIND, item_id)
    invoice = _editable(call, item)
    _refresh_line(call, item, invoice, remove=True)
    customer = call.state.store.get("customer", item["customer"]) or {}
    emit(call, "invoiceitem.deleted", KIND, item, created=customer_now(call.state, customer))
    item["_deleted"] = True
    return deleted_stub(item)


@accepts("customer", "invoice", "pending", *CREATED, *LIST)
def list_items(call: Call) -> dict[str, Any]:
    params = call.params
    created = created_filter(call)
    only_pending = as_bool(params["pending"], "pending") if "pending" in params else None
    rows = [
        i for i in call.state.store.newest_first(KIND)
        if (not params.get("customer") or i["customer"] == params["customer"])
        and (not params.get("invoice") or i["invoice"] == params["invoice"])
        and (only_pending is None or (i["invoice"] is None) == only_pending)
        and created({**i, "created": i["date"]})
    ]
    return page(call, rows, "/v1/invoiceitems", lambda r: render(call.state, KIND, r), KIND)


ROUTES: list[Route] = crud_routes("/v1/invoiceitems", create=create, list_all=list_items, retrieve=retrieve,
                                  update=update, delete=delete)
