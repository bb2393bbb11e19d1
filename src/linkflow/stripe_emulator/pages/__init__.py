"""Hosted pages, served outside ``/v1`` and without auth, as Stripe serves them on its own domains.

- Checkout, at a session's ``url``: ``GET /c/pay/{id}``, ``POST /c/pay/{id}`` (field ``card_number``).
- The customer portal, at a portal session's ``url``: ``GET /p/session/{secret}``,
  ``POST /p/session/{secret}/subscriptions/{sub}/cancel|renew|switch``.

Plain server-rendered HTML with labelled fields and buttons, no JavaScript.
"""

from __future__ import annotations

from starlette.routing import Route

from . import checkout_page, portal_page
from .html import request_origin

__all__ = ["request_origin", "routes"]


def routes() -> list[Route]:
    return [
        Route("/c/pay/{id}", checkout_page.show, methods=["GET"]),
        Route("/c/pay/{id}", checkout_page.submit, methods=["POST"]),
        Route("/p/session/{secret}", portal_page.show, methods=["GET"]),
        Route("/p/session/{secret}/subscriptions/{sub}/{action}", portal_page.act, methods=["POST"]),
    ]
