"""Issue #11.9: no raw email, name or key in the functions' logs, and no names in the onboarding
execution (its input and every state's output stay in the history, shown to operators)."""

from __future__ import annotations

import json

from onboarding_support import Onboarding
from subscription_events_support import Events
from support import confirm, sign_up, unique_email


def test_a_sign_up_and_its_webhooks_log_no_email_name_or_key_and_the_history_carries_no_name(stack):
    onboarding, events = Onboarding(stack), Events(stack)
    email = unique_email("pii.watch")
    sub = sign_up(stack, email, given="Hildegard", family="Zwicky")
    confirm(stack, sub)
    assert onboarding.finished(sub)["status"] == "SUCCEEDED"
    customer = onboarding.profile(sub)["stripeCustomerId"]
    events.use_card(customer)
    events.stripe.v1.subscriptions.create(params={"customer": customer, "items": [{"price": events.price("pro").id}]})
    events.settle()
    assert events.entitlement(sub)["status"] == "active"
    assert onboarding.profile(sub)["givenName"] == "Hildegard", "the profile still gets the names, from Cognito"

    history = json.dumps(onboarding.events(sub), default=str)
    assert "Hildegard" not in history and "Zwicky" not in history, "names stay out of the execution history"

    log = "".join(path.read_text() for path in sorted((stack.config.state_dir / "logs").glob("*.log")))
    assert f"linkflow-local-{'write-profile'}" in log and "linkflow-local-sync-entitlement" in log, (
        "the log holds the runs this test made")
    secrets = {
        "the email": email,
        "a name": "Zwicky",
        "the Stripe API key": stack.info["stripe"]["api_key"],
        "the webhook secret": stack.info["stripe"]["webhook_secret"],
    }
    leaked = [what for what, value in secrets.items() if value in log]
    assert not leaked, f"the function logs contain {leaked}"
    assert email.split("@")[0][:1] + "***@" in log, "emails appear masked, enough to tell users apart"
