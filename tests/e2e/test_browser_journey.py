"""The whole journey in a real browser (headless Chromium, Debian's ``chromium``, driven by
playwright), on the local stack's example app page: sign up, confirm, sign in, Subscribe, pay on
the hosted checkout page, back on the app with the entitlement ``active`` and its features; Manage
billing, cancel in the portal, back on the app with ``cancel_at_period_end``; the emulator's clock
past the period end, ``canceled``.

A failing step saves a screenshot and the page's HTML under the test's tmp dir and names them in
the failure. Without Chromium (or playwright) the test is skipped with the command that installs
it; CI installs both (.ci/run, pyproject's dev extra).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support import execution_arn_for, wait_for_execution

from linkflow.local.process import LocalStackProcess, ProcessConfig, free_port

INSTALL_CHROMIUM = "apt-get update && apt-get install -y chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "Corr3ct-Horse-Battery!"
CARD = "4242424242424242"


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip(f"headless Chromium is missing: install Debian's chromium as root: {INSTALL_CHROMIUM}")
    return path


class Journey:
    """One browser page and the steps taken on it; a failing step leaves a screenshot."""

    def __init__(self, page: Any, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.count = 0

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.count += 1
        try:
            yield
        except Exception as exc:
            stem = self.shots / f"{self.count:02d}-{name.replace(' ', '-')}"
            try:
                self.page.screenshot(path=f"{stem}.png", full_page=True)
                Path(f"{stem}.html").write_text(self.page.content())
                saved = f"screenshot {stem}.png, page {stem}.html"
            except Exception as shot_error:  # the page itself may be gone; say so, keep the first error
                saved = f"no screenshot ({shot_error})"
            raise AssertionError(f"step {name!r} failed at {self.page.url}: {exc}\n{saved}") from exc

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).inner_text()).strip()

    def see(self, selector: str, expected: str, timeout: float = 45) -> None:
        """Wait until ``selector`` reads ``expected``, pressing "Refresh" now and then (the
        entitlement follows Stripe's webhooks)."""
        deadline = time.monotonic() + timeout
        while self.text(selector) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"{selector} reads {self.text(selector)!r}, expected {expected!r}")
            self.page.wait_for_timeout(500)
            if self.page.get_by_role("button", name="Refresh").is_visible():
                self.page.get_by_role("button", name="Refresh").click()


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackProcess]:
    """A stack of its own: the journey moves the emulator's clock a month on."""
    _chromium()  # skip before starting anything
    root = Path(__file__).resolve().parents[2]
    config = ProcessConfig(template=root / "template.yaml", state_dir=tmp_path_factory.mktemp("browser-state"),
                           aws_port=free_port(), stripe_port=free_port(), api_port=free_port(),
                           wait_time_scale=0.01)
    with LocalStackProcess(config) as running:
        yield running


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    chromium = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def test_sign_up_subscribe_pay_cancel_in_the_portal_and_reach_canceled(own_stack: Any, browser_page: Any,
                                                                       tmp_path: Path) -> None:
    stack = own_stack
    page, app = browser_page, f"{stack.api_url}/app/"
    journey = Journey(page, tmp_path)
    email = f"browser.{uuid.uuid4().hex[:10]}@example.com"

    with journey.step("sign up"):
        page.goto(app)
        form = page.locator("#sign-up-form")
        form.get_by_label("Email").fill(email)
        form.get_by_label("Password").fill(PASSWORD)
        form.get_by_label("Given name").fill("Ada")
        form.get_by_label("Family name").fill("Lovelace")
        form.get_by_role("button", name="Sign up").click()
        page.locator("#confirm-form").wait_for(state="visible")

    with journey.step("confirm"):
        # The local Cognito sends no email and takes any code (docs/app-api.md).
        page.get_by_label("Confirmation code").fill("123456")
        page.get_by_role("button", name="Confirm").click()
        page.get_by_text("Confirmed: sign in.").wait_for()
        user = stack.client("cognito-idp").admin_get_user(UserPoolId=stack.info["cognito"]["user_pool_id"],
                                                          Username=email)
        sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
        done = wait_for_execution(stack.client("stepfunctions"), execution_arn_for(stack, sub), timeout=60)
        assert done["status"] == "SUCCEEDED", done  # onboarding linked a Stripe customer

    with journey.step("sign in"):
        form = page.locator("#sign-in-form")
        assert form.get_by_label("Email").input_value() == email
        form.get_by_label("Password").fill(PASSWORD)
        form.get_by_role("button", name="Sign in").click()
        journey.see("#email", email)
        journey.see("#status", "none")

    with journey.step("subscribe"):
        page.locator("#price").select_option("pro_monthly")
        page.get_by_role("button", name="Subscribe").click()
        page.wait_for_url(f"{stack.stripe_url}/c/pay/**")

    with journey.step("pay"):
        page.locator("input[name=card_number]").fill(CARD)
        page.get_by_role("button", name="Pay").click()
        page.wait_for_url(f"{app}?checkout=success*")

    with journey.step("active with features"):
        journey.see("#status", "active")
        journey.see("#features", "exports")
        assert journey.text("#plan") == "pro" and journey.text("#cancel-at-period-end") == "no"

    with journey.step("manage billing"):
        page.get_by_role("button", name="Manage billing").click()
        page.wait_for_url(f"{stack.stripe_url}/p/session/**")
        page.get_by_role("button", name="Cancel subscription").click()
        page.get_by_role("button", name="Renew subscription").wait_for()  # the cancellation is scheduled
        page.get_by_role("link", name="Return").click()
        page.wait_for_url(f"{app}?portal=return*")

    with journey.step("cancel at period end"):
        journey.see("#cancel-at-period-end", "yes")
        assert journey.text("#status") == "active"

    with journey.step("period ends"):
        stack.admin.advance_emulator_clock(32 * 86400)
        stack.admin.wait_for_webhooks(30)
        journey.see("#status", "canceled")
        journey.see("#features", "none")
