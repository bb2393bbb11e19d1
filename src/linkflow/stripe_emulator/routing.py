"""Matching ``/v1`` requests to resource handlers (``{id}`` segments become arguments)."""

from __future__ import annotations

import re
from typing import Any

from .endpoints import Handler, Route
from .errors import unknown_route
from .params import Accepted, accepted
from .resources import (
    billing_portal,
    checkout,
    coupons,
    customers,
    discounts,
    entitlements,
    events_api,
    invoiceitems,
    invoices_api,
    payment_methods,
    payments,
    plans,
    prices,
    products,
    setup_intents,
    subscriptions,
    test_clocks,
    webhook_endpoints,
)

ALL_ROUTES: list[Route] = [
    *customers.ROUTES,
    *payment_methods.ROUTES,
    *products.ROUTES,
    *prices.ROUTES,
    *plans.ROUTES,
    *subscriptions.ROUTES,
    *invoices_api.ROUTES,
    *invoiceitems.ROUTES,
    *payments.ROUTES,
    *setup_intents.ROUTES,
    *checkout.ROUTES,
    *events_api.ROUTES,
    *webhook_endpoints.ROUTES,
    *test_clocks.ROUTES,
    *entitlements.ROUTES,
    *billing_portal.ROUTES,
    *coupons.ROUTES,
    *discounts.ROUTES,
]


class Router:
    """Literal segments win over ``{id}`` ones (``/v1/customers/search`` is not a customer id).

    Every handler must declare its parameters (``params.accepts``): building the router checks it.

    Two patterns of different lengths never match the same path, so trying the patterns with the
    fewest placeholders first tries the most specific first, whatever order the tables use.
    """

    def __init__(self, routes: list[Route]) -> None:
        ordered = sorted(routes, key=lambda route: route[1].count("{"))
        self._routes = [
            (method, re.compile("^" + re.sub(r"\{\w+\}", r"([^/]+)", pattern) + "/?$"), handler, accepted(handler))
            for method, pattern, handler in ordered
        ]
        self._table = [(method, pattern, accepted(handler)) for method, pattern, handler in routes]

    def match(self, method: str, path: str) -> tuple[Handler, tuple[str, ...], Accepted]:
        for route_method, regex, handler, params in self._routes:
            if route_method != method:
                continue
            found = regex.match(path)
            if found:
                return handler, found.groups(), params
        raise unknown_route(method, path)

    def endpoints(self) -> list[dict[str, Any]]:
        """Every endpoint with the parameters it accepts (``GET /_emulator/endpoints``)."""
        return [{"method": method, "path": pattern, "params": params.names()}
                for method, pattern, params in self._table]


ROUTER = Router(ALL_ROUTES)
