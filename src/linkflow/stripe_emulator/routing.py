"""Matching ``/v1`` requests to resource handlers (``{id}`` segments become arguments)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import unknown_route
from .resources import (
    checkout,
    customers,
    entitlements,
    events_api,
    invoices,
    payment_methods,
    prices,
    products,
    subscriptions,
    test_clocks,
    webhook_endpoints,
)

Handler = Callable[..., dict[str, Any]]

ALL_ROUTES: list[tuple[str, str, Handler]] = [
    *customers.ROUTES,
    *payment_methods.ROUTES,
    *products.ROUTES,
    *prices.ROUTES,
    *subscriptions.ROUTES,
    *invoices.ROUTES,
    *checkout.ROUTES,
    *events_api.ROUTES,
    *webhook_endpoints.ROUTES,
    *test_clocks.ROUTES,
    *entitlements.ROUTES,
]


class Router:
    def __init__(self, routes: list[tuple[str, str, Handler]]) -> None:
        self._routes = [
            (method, re.compile("^" + re.sub(r"\{\w+\}", r"([^/]+)", pattern) + "/?$"), handler)
            for method, pattern, handler in routes
        ]

    def match(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
        for route_method, regex, handler in self._routes:
            if route_method != method:
                continue
            found = regex.match(path)
            if found:
                return handler, found.groups()
        raise unknown_route(method, path)


ROUTER = Router(ALL_ROUTES)
