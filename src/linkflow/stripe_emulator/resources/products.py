"""Products."""

from __future__ import annotations

from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import StripeError, invalid_request, missing_param
from ..events import emit, emit_updated
from ..forms import as_bool, as_str_list, blank_to_none, merge_metadata
from ..lists import created_filter, page
from ..lookup import get_or_404, referenced
from ..params import CREATED, LIST, accepts
from ..render import deleted_stub, render
from ..store import new_id
from .billing import snapshot

_FIELDS = ("name", "description", "statement_descriptor", "tax_code", "unit_label", "url")


def create_product(call: Call, params: dict[str, Any], *, event: bool = True) -> dict[str, Any]:
    """Create a product from ``params`` (also used by ``product_data`` on prices)."""
    if not params.get("name"):
        raise missing_param("name")
    now = call.now()
    product_id = params.get("id") or new_id("prod", 14)
    if call.state.store.get("product", product_id) is not None:
        raise invalid_request(f"Product already exists: {product_id}", param="id", code="resource_already_exists")
    product = {
        "id": product_id, "object": "product",
        "active": as_bool(params.get("active", "true"), "active"),
        "created": now, "default_price": None, "description": None, "features": [],
        "images": as_str_list(params.get("images", []), "images"), "livemode": False,
        "marketing_features": [], "metadata": merge_metadata({}, params.get("metadata", {})),
        "name": params["name"], "package_dimensions": None, "shippable": None, "statement_descriptor": None,
        "tax_code": None, "type": "service", "unit_label": None, "updated": now, "url": None,
    }
    for field in _FIELDS[1:]:
        if field in params:
            product[field] = blank_to_none(params[field])
    call.state.store.put("product", product)
    if event:
        emit(call, "product.created", "product", product, created=now)
    return product


# Not implemented, so refused: default_price_data[currency_options|unit_amount_decimal|recurring[interval_count]
# beyond those below], features, marketing_features, package_dimensions, shippable, type.
@accepts("id", "name", "active", "description", "images", "metadata", "statement_descriptor", "tax_code",
         "unit_label", "url", "default_price_data[currency]", "default_price_data[unit_amount]",
         "default_price_data[recurring][interval]", "default_price_data[recurring][interval_count]",
         "default_price_data[tax_behavior]")
def create(call: Call) -> dict[str, Any]:
    """With ``default_price_data``: the product and its default price at once, as Stripe makes them."""
    from .prices import new_price  # prices builds on products

    data = call.params.get("default_price_data")
    if data is None:
        return render(call.state, "product", create_product(call, call.params))
    if not isinstance(data, dict):
        raise invalid_request("Invalid hash", param="default_price_data")
    product = create_product(call, call.params, event=False)
    try:
        price = new_price(call, data, product["id"], prefix="default_price_data")
    except StripeError:
        call.state.store.remove("product", product["id"])  # refused as a whole: nothing is created
        raise
    product["default_price"] = price["id"]
    emit(call, "product.created", "product", product, created=product["created"])
    emit(call, "price.created", "price", price, created=price["created"])
    return render(call.state, "product", product)


def _default_price(call: Call, product_id: str, price_id: Any) -> str | None:
    if price_id is None:
        return None
    price = referenced(call, "price", price_id, "default_price")
    if price["product"] != product_id:
        raise invalid_request(f"The price `{price_id}` does not belong to this product.", param="default_price")
    return str(price["id"])


@accepts()
def retrieve(call: Call, product_id: str) -> dict[str, Any]:
    return render(call.state, "product", get_or_404(call, "product", product_id))


@accepts("name", "active", "description", "images", "metadata", "statement_descriptor", "tax_code", "unit_label",
         "url", "default_price")
def update(call: Call, product_id: str) -> dict[str, Any]:
    product = get_or_404(call, "product", product_id)
    before = snapshot(product)
    params = call.params
    for field in _FIELDS:
        if field in params:
            if field == "name" and not params[field]:
                raise invalid_request("You cannot unset a product's name.", param="name")
            product[field] = blank_to_none(params[field])
    if "active" in params:
        product["active"] = as_bool(params["active"], "active")
    if "metadata" in params:
        product["metadata"] = merge_metadata(product["metadata"], params["metadata"])
    if "default_price" in params:
        product["default_price"] = _default_price(call, product_id, blank_to_none(params["default_price"]))
    if "images" in params:
        product["images"] = [] if params["images"] == "" else as_str_list(params["images"], "images")
    now = call.now()
    product["updated"] = now
    emit_updated(call, "product.updated", "product", before, product, created=now)
    return render(call.state, "product", product)


@accepts(expand=False)
def delete(call: Call, product_id: str) -> dict[str, Any]:
    product = get_or_404(call, "product", product_id)
    if any(p["product"] == product_id for p in call.state.store.table("price").values()):
        raise invalid_request("This product cannot be deleted because it has one or more user-created prices.")
    emit(call, "product.deleted", "product", product, created=call.now())
    product["_deleted"] = True
    return deleted_stub(product)


@accepts("active", "ids", *CREATED, *LIST)
def list_products(call: Call) -> dict[str, Any]:
    params = call.params
    active = as_bool(params["active"], "active") if "active" in params else None
    ids = set(as_str_list(params["ids"], "ids")) if "ids" in params else None
    created = created_filter(call)
    rows = [
        p for p in call.state.store.newest_first("product")
        if (active is None or p["active"] == active)
        and (ids is None or p["id"] in ids)
        and created(p)
    ]
    return page(call, rows, "/v1/products", lambda r: render(call.state, "product", r), "product")


ROUTES: list[Route] = crud_routes("/v1/products", create=create, list_all=list_products, retrieve=retrieve,
                                  update=update, delete=delete)
