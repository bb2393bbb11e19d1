"""``emulator_requests_per_second``: customer creates through the official SDK, several threads.

Webhook delivery is switched off while it runs (every create would otherwise post a
``customer.created`` to the ingress), so the figure is the emulator's own capacity: it must stay
well above what a workload asks of it, so the emulator is never the bottleneck.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from .context import Run
from .results import Figure, value


def measure(run: Run) -> dict[str, Figure]:
    stack, creates, threads = run.stack, run.sizes.emulator_creates, run.sizes.emulator_threads
    client = stack.stripe()
    tag = uuid.uuid4().hex[:8]
    stack.webhook_endpoint(enabled=False)
    try:
        client.v1.customers.create(params={"email": f"warm.{tag}@example.com"})  # first-request costs
        counter = iter(range(creates))
        lock = threading.Lock()

        def worker() -> int:
            done = 0
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return done
                client.v1.customers.create(params={"email": f"rps.{tag}.{i}@example.com", "name": "Bench Customer",
                                                   "metadata": {"cognito_sub": f"bench-{tag}-{i}"}})
                done += 1

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            done = sum(f.result() for f in [pool.submit(worker) for _ in range(threads)])
        elapsed = time.perf_counter() - start
    finally:
        stack.webhook_endpoint(enabled=True)
    method = (f"{done} POST /v1/customers through stripe-python (StripeClient) from {threads} threads against the "
              "emulator in the stack process; webhook delivery off during the run")
    return {"emulator_requests_per_second": value("requests/s", done / elapsed, method, digits=1, n=done,
                                                  threads=threads, elapsed_s=round(elapsed, 2))}
