"""What the hosted pages share: the page frame, escaping, money, dates, plan names, form bodies."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..resources.tiers import price_amount
from ..state import EmulatorState

_ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf",
                 "xof", "xpf"}
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1f36}"
          "button{font-size:1rem;padding:.5rem 1rem;margin:.25rem 0;cursor:pointer}"
          "input{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0 .75rem}"
          "[role=alert]{color:#b3093c;font-weight:600}article{border:1px solid #e3e8ee;padding:1rem;margin:1rem 0}"
          "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .5rem}")


def request_origin(request: Request) -> str:
    """``scheme://host[:port]`` as the caller addressed the emulator."""
    return f"{request.url.scheme}://{request.url.netloc}"


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
            f"<body><main>\n{body}\n</main></body></html>\n")
    return HTMLResponse(html, status, headers={"Cache-Control": "no-store"})


def alert(message: str | None) -> str:
    return f'<p role="alert" id="message">{escape(message)}</p>\n' if message else ""


def link(href: str, text: str) -> str:
    return f'<a href="{escape(href, quote=True)}">{escape(text)}</a>'


def money(amount: int, currency: str) -> str:
    currency = currency.lower()
    value = str(amount) if currency in _ZERO_DECIMAL else f"{amount / 100:,.2f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"


def cadence(price: dict[str, Any]) -> str:
    """``per month``, ``every 3 months``; empty for a one-time price."""
    recurring = price.get("recurring")
    if not recurring:
        return ""
    interval, count = recurring["interval"], int(recurring.get("interval_count") or 1)
    return f"per {interval}" if count == 1 else f"every {count} {interval}s"


def price_text(price: dict[str, Any], quantity: int = 1) -> str:
    amount = money(price_amount(price, quantity), str(price.get("currency") or "usd"))
    return " ".join(part for part in (amount, cadence(price)) if part)


def plan_name(state: EmulatorState, price: dict[str, Any]) -> str:
    """What a customer calls a price: its nickname, else its product's name."""
    if price.get("nickname"):
        return str(price["nickname"])
    product = state.store.get("product", str(price.get("product"))) or {}
    return str(product.get("name") or price["id"])


def day(ts: int | None) -> str:
    if ts is None:
        return ""
    when = dt.datetime.fromtimestamp(ts, dt.UTC)
    return f"{when:%B} {when.day}, {when.year}"


class FormError(ValueError):
    """A form body with fields the page does not have."""


async def form_fields(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The url-encoded form body; a field the form does not have is refused (``FormError``)."""
    fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise FormError(f"Unknown form field: {', '.join(unknown)}")
    return fields
