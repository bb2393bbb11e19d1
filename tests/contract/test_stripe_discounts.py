"""Discounts: coupons and promotion codes on subscriptions, invoices and Checkout, applied to amounts.

Amounts as the SDK's API version shows them: an invoice's lines and ``subtotal`` before discounts,
each line's ``discount_amounts``, the invoice's ``discounts`` (ids) and ``total_discount_amounts``,
``total`` and ``amount_due`` after them.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from conftest import Admin

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
FEB_1, MAR_1, APR_1 = 1_769_904_000, 1_772_323_200, 1_775_001_600
DAY = 86400


def _types(client: stripe.StripeClient) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]


def _coupon(client: stripe.StripeClient, **params: Any) -> Any:
    return client.v1.coupons.create(params=params)


def _promo(client: stripe.StripeClient, coupon: Any, **params: Any) -> Any:
    return client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}, **params})


def _customer(client: stripe.StripeClient, clock: Any = None) -> Any:
    params: dict[str, Any] = {"payment_method": "pm_card_visa"}
    if clock is not None:
        params["test_clock"] = clock.id
    return client.v1.customers.create(params=params)


def _subscribe(client: stripe.StripeClient, customer: Any, price: Any, **params: Any) -> Any:
    return client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}],
                                                  "expand": ["latest_invoice"], **params})


def _invoices(client: stripe.StripeClient, sub_id: str) -> list[Any]:
    return list(reversed(client.v1.invoices.list(params={"subscription": sub_id}).data))


def _refused(call: Any, param: str) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    assert (caught.value.http_status, caught.value.param) == (400, param), caught.value
    return caught.value


def _complete(client: stripe.StripeClient, session_id: str, **params: Any) -> Any:
    """The emulator's test helper: the customer pays (and types ``promotion_code``) on the hosted page."""
    response = client.raw_request("post", f"/v1/test_helpers/checkout/sessions/{session_id}/complete", **params)
    return client.deserialize(response, api_mode="V1")


def _advance(client: stripe.StripeClient, clock: Any, to: int) -> None:
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": to})


def test_coupons_are_checked_and_listed(client: stripe.StripeClient) -> None:
    _refused(lambda: _coupon(client, percent_off=10, amount_off=100, currency="usd"), "amount_off")
    _refused(lambda: _coupon(client), "percent_off")
    _refused(lambda: _coupon(client, amount_off=500), "currency")
    _refused(lambda: _coupon(client, percent_off=120), "percent_off")
    _refused(lambda: _coupon(client, percent_off=10, duration="repeating"), "duration_in_months")
    _refused(lambda: _coupon(client, percent_off=10, duration="forever", duration_in_months=3), "duration_in_months")
    coupon = _coupon(client, id="SUMMER", percent_off=25.5, duration="repeating", duration_in_months=3,
                     name="Summer", max_redemptions=5)
    assert (coupon.id, coupon.percent_off, coupon.amount_off, coupon.duration, coupon.duration_in_months,
            coupon.valid, coupon.times_redeemed) == ("SUMMER", 25.5, None, "repeating", 3, True, 0)
    _refused(lambda: _coupon(client, id="SUMMER", percent_off=5), "id")
    fixed = _coupon(client, amount_off=500, currency="USD")
    assert (fixed.currency, fixed.duration) == ("usd", "once")  # Stripe's default duration
    assert client.v1.coupons.update("SUMMER", params={"name": "Summer 26"}).name == "Summer 26"
    assert [c.id for c in client.v1.coupons.list().data] == [fixed.id, "SUMMER"]
    assert client.v1.coupons.delete(fixed.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.coupons.retrieve(fixed.id)
    assert [t for t in _types(client) if t.startswith("coupon.")] == [
        "coupon.created", "coupon.created", "coupon.updated", "coupon.deleted"]


def test_a_forever_percent_coupon_discounts_every_invoice(client: stripe.StripeClient, monthly_price: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    _coupon(client, id="TENOFF", percent_off=10, duration="forever")
    sub = _subscribe(client, _customer(client, clock), monthly_price, discounts=[{"coupon": "TENOFF"}])
    invoice = sub.latest_invoice
    (discount_id,) = sub.discounts
    assert invoice.discounts == [discount_id]
    assert (invoice.subtotal, invoice.total, invoice.amount_due, invoice.amount_paid) == (1500, 1350, 1350, 1350)
    assert [(t.amount, t.discount) for t in invoice.total_discount_amounts] == [(150, discount_id)]
    line = invoice.lines.data[0]
    assert (line.amount, [(d.amount, d.discount) for d in line.discount_amounts]) == (1500, [(150, discount_id)])
    expanded = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["discounts.source.coupon"]})
    discount = expanded.discounts[0]
    assert (discount.object, discount.subscription, discount.customer, discount.start, discount.end) == (
        "discount", sub.id, sub.customer, T0, None)
    assert (discount.source.type, discount.source.coupon.id, discount.source.coupon.times_redeemed) == (
        "coupon", "TENOFF", 1)
    _advance(client, clock, FEB_1 + DAY)
    renewal = _invoices(client, sub.id)[-1]
    assert (renewal.billing_reason, renewal.total, renewal.amount_paid) == ("subscription_cycle", 1350, 1350)
    types = _types(client)
    assert types.index("customer.subscription.created") < types.index("customer.discount.created") < types.index(
        "invoice.created")


def test_a_once_coupon_discounts_the_first_invoice_then_ends(client: stripe.StripeClient,
                                                            monthly_price: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    coupon = _coupon(client, amount_off=500, currency="usd", duration="once")
    sub = _subscribe(client, _customer(client, clock), monthly_price, discounts=[{"coupon": coupon.id}])
    assert (sub.latest_invoice.total, sub.latest_invoice.amount_paid) == (1000, 1000)
    _advance(client, clock, FEB_1 + DAY)
    renewal = _invoices(client, sub.id)[-1]
    assert (renewal.total, renewal.discounts, renewal.total_discount_amounts) == (1500, [], [])
    assert client.v1.subscriptions.retrieve(sub.id).discounts == []
    assert _types(client).count("customer.discount.deleted") == 1


def test_a_once_coupon_waits_for_the_first_paid_invoice_after_a_trial(client: stripe.StripeClient,
                                                                     monthly_price: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    coupon = _coupon(client, percent_off=50, duration="once")
    sub = _subscribe(client, _customer(client, clock), monthly_price, trial_period_days=7,
                     discounts=[{"coupon": coupon.id}])
    assert sub.latest_invoice.total == 0
    _advance(client, clock, T0 + 8 * DAY)
    first_paid = _invoices(client, sub.id)[-1]
    assert (first_paid.subtotal, first_paid.total, first_paid.amount_paid) == (1500, 750, 750)


def test_a_repeating_coupon_ends_after_its_months(client: stripe.StripeClient, monthly_price: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    coupon = _coupon(client, amount_off=2000, currency="usd", duration="repeating", duration_in_months=2)
    sub = _subscribe(client, _customer(client, clock), monthly_price, discounts=[{"coupon": coupon.id}])
    discount = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["discounts"]}).discounts[0]
    assert discount.end == MAR_1
    for when in (FEB_1 + DAY, MAR_1 + DAY, APR_1 + DAY):
        _advance(client, clock, when)
    totals = [(i.subtotal, i.total, i.amount_due) for i in _invoices(client, sub.id)]
    assert totals == [(1500, 0, 0), (1500, 0, 0), (1500, 1500, 1500), (1500, 1500, 1500)]  # never below zero


def test_coupon_limits_max_redemptions_and_redeem_by(client: stripe.StripeClient, admin: Admin,
                                                      monthly_price: Any) -> None:
    once = _coupon(client, percent_off=10, max_redemptions=1)
    _subscribe(client, _customer(client), monthly_price, discounts=[{"coupon": once.id}])
    assert client.v1.coupons.retrieve(once.id).valid is False
    error = _refused(lambda: _subscribe(client, _customer(client), monthly_price, discounts=[{"coupon": once.id}]),
                     "discounts[0][coupon]")
    assert error.code == "coupon_expired"
    now = client.v1.customers.create().created
    soon = _coupon(client, percent_off=10, redeem_by=now + 3600)
    admin.post("clock", {"advance_seconds": 7200})
    assert client.v1.coupons.retrieve(soon.id).valid is False
    _refused(lambda: _subscribe(client, _customer(client), monthly_price, discounts=[{"coupon": soon.id}]),
             "discounts[0][coupon]")
    _refused(lambda: _subscribe(client, _customer(client), monthly_price, discounts=[{"coupon": "MISSING"}]),
             "discounts[0][coupon]")
    euros = _coupon(client, amount_off=100, currency="eur")
    _refused(lambda: _subscribe(client, _customer(client), monthly_price, discounts=[{"coupon": euros.id}]),
             "discounts[0][coupon]")
    assert len(client.v1.subscriptions.list().data) == 1  # refused requests made nothing


def test_promotion_codes_and_their_restrictions(client: stripe.StripeClient, monthly_price: Any) -> None:
    coupon = _coupon(client, percent_off=20, duration="forever")
    promo = _promo(client, coupon, code="WELCOME20", max_redemptions=2)
    assert (promo.object, promo.code, promo.active, promo.promotion.type, promo.promotion.coupon) == (
        "promotion_code", "WELCOME20", True, "coupon", coupon.id)
    _refused(lambda: _promo(client, coupon, code="welcome20"), "code")  # active codes are unique
    sub = _subscribe(client, _customer(client), monthly_price, discounts=[{"promotion_code": promo.id}])
    assert sub.latest_invoice.total == 1200
    discount = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["discounts"]}).discounts[0]
    assert (discount.promotion_code, discount.source.coupon) == (promo.id, coupon.id)
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1

    alice, bob = _customer(client), _customer(client)
    only_alice = _promo(client, coupon, customer=alice.id)
    _refused(lambda: _subscribe(client, bob, monthly_price, discounts=[{"promotion_code": only_alice.id}]),
             "discounts[0][promotion_code]")
    big = _promo(client, coupon, restrictions={"minimum_amount": 2000, "minimum_amount_currency": "usd"})
    _refused(lambda: _subscribe(client, bob, monthly_price, discounts=[{"promotion_code": big.id}]),
             "discounts[0][promotion_code]")
    first = _promo(client, coupon, restrictions={"first_time_transaction": True})
    paying = client.v1.customers.retrieve(sub.customer)
    _refused(lambda: _subscribe(client, paying, monthly_price, discounts=[{"promotion_code": first.id}]),
             "discounts[0][promotion_code]")  # this customer has paid an invoice already
    assert _subscribe(client, alice, monthly_price, discounts=[{"promotion_code": first.id}]).status == "active"

    client.v1.promotion_codes.update(promo.id, params={"active": False})
    _refused(lambda: _subscribe(client, bob, monthly_price, discounts=[{"promotion_code": promo.id}]),
             "discounts[0][promotion_code]")
    assert [p.id for p in client.v1.promotion_codes.list(params={"code": "WELCOME20"}).data] == [promo.id]
    assert [t for t in _types(client) if t.startswith("promotion_code.")][-1] == "promotion_code.updated"


def test_update_replaces_a_subscriptions_discounts_and_delete_removes_them(client: stripe.StripeClient,
                                                                          monthly_price: Any) -> None:
    ten = _coupon(client, percent_off=10, duration="forever")
    five = _coupon(client, amount_off=500, currency="usd", duration="forever")
    sub = _subscribe(client, _customer(client), monthly_price, discounts=[{"coupon": ten.id}])
    updated = client.v1.subscriptions.update(sub.id, params={"discounts": [{"coupon": ten.id}, {"coupon": five.id}]})
    assert len(updated.discounts) == 2 and updated.discounts[0] == sub.discounts[0]
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert (preview.subtotal, preview.total) == (1500, 850)  # 10 % off, then 5 off what is left
    removed = client.v1.subscriptions.delete_discount(sub.id)
    assert (removed.object, removed.deleted) == ("discount", True)
    assert client.v1.subscriptions.retrieve(sub.id).discounts == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.delete_discount(sub.id)
    assert _types(client).count("customer.discount.deleted") == 2
    cleared = client.v1.subscriptions.update(sub.id, params={"discounts": [{"coupon": ten.id}]})
    assert client.v1.subscriptions.update(cleared.id, params={"discounts": ""}).discounts == []


def test_a_one_off_invoice_with_an_amount_off_spread_over_its_lines(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    for amount in (1000, 3000):
        client.v1.invoice_items.create(params={"customer": customer.id, "amount": amount, "currency": "usd"})
    coupon = _coupon(client, amount_off=1000, currency="usd")
    invoice = client.v1.invoices.create(params={"customer": customer.id, "pending_invoice_items_behavior": "include",
                                                "discounts": [{"coupon": coupon.id}]})
    (discount_id,) = invoice.discounts
    assert (invoice.subtotal, invoice.total, invoice.amount_due) == (4000, 3000, 3000)
    shares = sorted(d.amount for line in invoice.lines.data for d in line.discount_amounts)
    assert shares == [250, 750] and invoice.total_discount_amounts[0].discount == discount_id
    paid = client.v1.invoices.pay(invoice.id)
    assert (paid.status, paid.amount_paid) == ("paid", 3000)


def test_checkout_with_discounts_or_promotion_codes(client: stripe.StripeClient, monthly_price: Any) -> None:
    coupon = _coupon(client, percent_off=50, duration="forever")
    base = {"mode": "subscription", "line_items": [{"price": monthly_price.id}], "success_url": "https://e.com/ok"}
    _refused(lambda: client.v1.checkout.sessions.create(params={
        **base, "allow_promotion_codes": True, "discounts": [{"coupon": coupon.id}]}), "discounts")
    session = client.v1.checkout.sessions.create(params={**base, "discounts": [{"coupon": coupon.id}]})
    assert (session.amount_subtotal, session.amount_total, session.total_details.amount_discount) == (1500, 750, 750)
    assert [(d.coupon, d.promotion_code) for d in session.discounts] == [(coupon.id, None)]
    item = client.v1.checkout.sessions.line_items.list(session.id).data[0]
    assert (item.amount_subtotal, item.amount_discount, item.amount_total) == (1500, 750, 750)
    done = _complete(client, session.id)
    sub = client.v1.subscriptions.retrieve(done.subscription, params={"expand": ["latest_invoice"]})
    assert len(sub.discounts) == 1 and sub.latest_invoice.amount_paid == 750

    promo = _promo(client, coupon, code="HALF")
    typed = client.v1.checkout.sessions.create(params={**base, "allow_promotion_codes": True})
    assert (typed.allow_promotion_codes, typed.amount_total) == (True, 1500)
    with pytest.raises(stripe.InvalidRequestError):
        _complete(client, typed.id, promotion_code="NOPE")
    done = _complete(client, typed.id, promotion_code="half")
    assert (done.amount_total, done.discounts[0].promotion_code) == (750, promo.id)
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1


def test_the_checkout_page_takes_a_promotion_code_when_allowed(client: stripe.StripeClient, monthly_price: Any,
                                                               emulator: Any) -> None:
    coupon = _coupon(client, percent_off=50, duration="forever")
    _promo(client, coupon, code="HALF")
    base = {"mode": "subscription", "line_items": [{"price": monthly_price.id}], "success_url": "https://e.com/ok"}
    plain = client.v1.checkout.sessions.create(params=base)
    allowed = client.v1.checkout.sessions.create(params={**base, "allow_promotion_codes": True})
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        assert 'name="promotion_code"' not in browser.get(plain.url).text
        refused = browser.post(plain.url, data={"card_number": "4242424242424242", "promotion_code": "HALF"})
        assert refused.status_code == 400
        assert 'name="promotion_code"' in browser.get(allowed.url).text
        wrong = browser.post(allowed.url, data={"card_number": "4242424242424242", "promotion_code": "NOPE"})
        assert wrong.status_code == 400 and "This code is invalid." in wrong.text
        paid = browser.post(allowed.url, data={"card_number": "4242424242424242", "promotion_code": "HALF"})
        assert paid.status_code == 303
    assert client.v1.checkout.sessions.retrieve(allowed.id).amount_total == 750
