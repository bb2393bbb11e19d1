"""A stateful Stripe API emulator that the official ``stripe`` SDK talks to unchanged.

    with EmulatorServer(port=0) as server:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": server.url})
        client.v1.customers.create(params={"email": "a@example.com"})
        server.state.wait_idle(5)  # webhook deliveries done

See ``admin.py`` for the ``/_emulator`` admin API (faults, webhook behaviour, search lag, emulator
time, request log, reset) and ``resources/`` for what each Stripe resource supports.
"""

from .app import create_app
from .clock import Clock
from .server import EmulatorServer, PortInUseError, run
from .state import EmulatorState
from .webhooks import signature_header

__all__ = ["Clock", "EmulatorServer", "EmulatorState", "PortInUseError", "create_app", "run", "signature_header"]
