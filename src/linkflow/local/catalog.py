"""What the app sells, in the Stripe emulator before the local stack takes its first request.

For each lookup key of the template's ``AllowedPriceLookupKeys``: a product whose
``metadata.plan`` is the key's first word (``pro_monthly`` sells plan ``pro``), carrying Stripe
Entitlements features (``FEATURES``), and a recurring price with that lookup key (monthly, or
yearly for a key ending in ``_yearly`` / ``_annual``). Then the default customer-portal
configuration (the emulator, as Stripe, opens no portal session without one): cancel at the period
end, switch among those prices, invoice history, ``default_return_url`` the app's origin.

Seeded before the stack's webhook endpoint exists, so none of it reaches the workflows.
"""

from __future__ import annotations

from typing import Any

import stripe

FEATURES: dict[str, tuple[str, ...]] = {"pro": ("exports",), "team": ("exports", "sso")}
MONTHLY_AMOUNTS: dict[str, int] = {"pro": 1500, "team": 4900}


def plan_of(lookup_key: str) -> str:
    return lookup_key.split("_", 1)[0]


def _interval(lookup_key: str) -> str:
    return "year" if lookup_key.endswith(("_yearly", "_annual")) else "month"


def seed(client: stripe.StripeClient, lookup_keys: list[str], return_url: str) -> dict[str, str]:
    """Products, features, prices and the portal configuration; lookup key -> price id."""
    features: dict[str, str] = {}  # feature lookup key -> feature id
    portal_products: list[dict[str, Any]] = []
    prices: dict[str, str] = {}
    for key in lookup_keys:
        plan = plan_of(key)
        product = client.v1.products.create(params={"name": f"linkflow {plan.title()}", "metadata": {"plan": plan}})
        for feature in FEATURES.get(plan, ()):
            if feature not in features:
                features[feature] = client.v1.entitlements.features.create(
                    params={"name": feature.title(), "lookup_key": feature}).id
            client.v1.products.features.create(product.id, params={"entitlement_feature": features[feature]})
        interval = _interval(key)
        amount = MONTHLY_AMOUNTS.get(plan, 1000) * (10 if interval == "year" else 1)
        price_params: Any = {"product": product.id, "unit_amount": amount, "currency": "usd",
                             "recurring": {"interval": interval}, "lookup_key": key}
        price = client.v1.prices.create(params=price_params)
        prices[key] = price.id
        portal_products.append({"product": product.id, "prices": [price.id]})
    portal_features: dict[str, Any] = {
        "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
        "invoice_history": {"enabled": True},
    }
    if portal_products:
        portal_features["subscription_update"] = {"enabled": True, "default_allowed_updates": ["price"],
                                                  "products": portal_products}
    portal: Any = {"business_profile": {"headline": "linkflow billing"}, "default_return_url": return_url,
                   "features": portal_features}
    client.v1.billing_portal.configurations.create(params=portal)
    return prices
