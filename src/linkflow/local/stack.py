"""``linkflow local up``: the whole product offline, on one machine.

Starts the AWS endpoint (moto executing the real ASL, Lambda running the real handlers in worker
processes under the runtime interface client, ``runtime.ProcessRuntime``), the Stripe emulator (in
its own process, ``stripe_process``) and the template's HTTP API; provisions them from
template.yaml; registers the CloudFormation stack ``linkflow-local``; writes ``local.json``.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import (
    app_page,
    catalog,
    cognito,
    definition_cache,
    dynamodb_index,
    dynamodb_json,
    dynamodb_speed,
    http_speed,
    json_answers,
    lambda_runtime,
    sfn_api,
    wait_scale,
)
from .admin import AdminCalls
from .api_gateway import ApiServer, build_app
from .aws_server import AwsApp, AwsServer
from .client import REGION, Endpoints, LocalInfo, LocalStackClient, StackHandle
from .faults import FaultRegistry
from .jwt_authorizer import JwtVerifier, local_jwks_url
from .provision import Provisioned, Provisioner
from .runtime import ProcessRuntime
from .schedules import Scheduler
from .sqs_poller import SqsPollers
from .template import Template, TemplateError, load_template

STACK_NAME = "linkflow-local"
HOST = "127.0.0.1"
API_KEY = "sk_test_linkflow_local"
WEBHOOK_PATH = "/stripe/webhook"


def default_template() -> Path:
    """template.yaml of the checkout this package runs from (or of the working directory)."""
    here = Path(__file__).resolve()
    for parent in [Path.cwd(), *here.parents]:
        if (parent / "template.yaml").is_file():
            return parent / "template.yaml"
    return Path.cwd() / "template.yaml"


@dataclass
class LocalStackConfig:
    template: Path = field(default_factory=default_template)
    state_dir: Path = Path(".linkflow")
    aws_port: int = 4566
    stripe_port: int = 12111
    api_port: int = 3000
    wait_time_scale: float = 1.0
    stack_name: str = STACK_NAME
    stage: str = "local"
    # Handlers log per function under <state_dir>/logs (`linkflow local logs`); lambda_log is
    # accepted from callers of the in-process runtime this replaced, and no longer written.
    lambda_log: Path | None = None
    worker_idle_timeout: float = 600.0  # a warm worker unused this long is stopped (Lambda's reaping)
    max_workers: int = 128  # worker processes at once, every function together (memory: ~65 MiB each;
    # Lambda allows an account 1,000): room for 8 functions at 16 concurrent invocations each
    schedules: bool = False  # fire the template's schedules on their own (else only `local schedule fire`)

    def __post_init__(self) -> None:
        self.template = Path(self.template)
        self.state_dir = Path(self.state_dir)


class LocalStack(StackHandle):
    def __init__(self, config: LocalStackConfig | None = None):
        self.config = config or LocalStackConfig()
        self.admin = LocalStackClient(Endpoints.on(HOST, self.config.aws_port, self.config.stripe_port,
                                                   self.config.api_port))
        self.runtime = ProcessRuntime(self.log_dir, region=REGION, credentials=self._credentials(),
                                      max_workers=self.config.max_workers,
                                      idle_timeout=self.config.worker_idle_timeout)
        self.faults = FaultRegistry()
        self.provisioned: Provisioned | None = None
        self.info: LocalInfo = {}
        self._aws: AwsServer | None = None
        self._api: ApiServer | None = None
        self._stripe: Any = None
        self._pollers: SqsPollers | None = None
        self.scheduler: Scheduler | None = None
        self.prices: list[str] = []  # the allowed price lookup keys, seeded in the emulator
        self._started = False
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        template = load_template(self.config.template,
                                 self._overrides(load_template(self.config.template).parameters) or None)
        self._preflight(template)
        self._install_patches()
        try:
            self._start_stripe()
            self.prices = self._seed_catalog(template)
            admin = AdminCalls(self.faults, self.runtime, REGION,
                               lambda: self.provisioned.user_pool_id if self.provisioned else None)
            self._aws = AwsServer(HOST, self.config.aws_port, AwsApp(self.faults, admin))
            self._aws.start()
            self._reset_moto()
            webhook_secret = self._register_webhook(template)
            self.provisioned = Provisioner(template, self.client, REGION, self.runtime, self.config.stack_name,
                                           self._function_env(), api_url=self.api_url).provision()
            self._create_stripe_secret(template, webhook_secret)
            self._api = ApiServer(HOST, self.config.api_port, self._api_app())
            self._api.start()
            self._start_pollers()
            self._start_scheduler(admin)
            self._register_stack()
            self.info = self._write_state(webhook_secret)
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self._pollers is not None:  # first: they call the AWS endpoint and the handlers
            self._pollers.stop()
            self._pollers = None
        self.runtime.close()  # every worker stopped; an invocation still arriving starts none
        for server in (self._api, self._aws, self._stripe):
            if server is not None:
                server.stop()
        self._api = self._aws = self._stripe = None
        state = self.config.state_dir / "local.json"
        if self._started and state.is_file():
            state.unlink()
        self._started = False

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- steps ----------------------------------------------------------------------------------
    def _preflight(self, template: Template) -> None:
        """Fail before anything starts when the template cannot be provisioned."""
        probe = Provisioner(template, self.client, REGION, self.runtime, self.config.stack_name, {})
        probe._check_types()
        probe._check_functions()

    def _install_patches(self) -> None:
        from moto.core.config import default_user_config

        os.environ["MOTO_PORT"] = str(self.config.aws_port)
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        lambda_runtime.install(self.runtime)
        cognito.install(self.runtime.invoke)
        dynamodb_json.install()
        json_answers.install()  # after dynamodb_json: DynamoDB keeps moto's serializer for its other answers
        dynamodb_speed.install()
        dynamodb_index.install()  # after dynamodb_speed: its index Query reads these maps
        http_speed.install()
        sfn_api.install()
        definition_cache.install()
        wait_scale.install(self.config.wait_time_scale)

    def _reset_moto(self) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.aws_url}/moto-api/reset", method="POST"), timeout=10)
        from moto.core.config import default_user_config

        default_user_config["stepfunctions"] = {"execute_state_machine": True}

    def _start_stripe(self) -> None:
        """The emulator in its own process (``stripe_process``): Stripe's work is not the stack's."""
        from .stripe_process import EmulatorProcess

        self._stripe = EmulatorProcess(HOST, self.config.stripe_port, self.config.state_dir / "stripe-emulator.log")
        self._stripe.start()

    def _start_pollers(self) -> None:
        """Lambda's SQS event source mappings (SAM ``Type: SQS`` events), polled locally."""
        assert self.provisioned is not None
        interval = min(1.0, max(0.02, self.config.wait_time_scale))
        self._pollers = SqsPollers(self.provisioned.queue_sources, self.client("sqs"), self.runtime.invoke,
                                   REGION, poll_interval=interval)
        self._pollers.start()

    def _start_scheduler(self, admin: AdminCalls) -> None:
        """The template's schedules: fired by ``local schedule fire``, and on their own with --schedules."""
        assert self.provisioned is not None
        self.scheduler = Scheduler(self.provisioned.schedules, self.client("stepfunctions").start_execution)
        admin.scheduler = self.scheduler
        if self.config.schedules:
            self.scheduler.start()

    def _overrides(self, declared: dict[str, str]) -> dict[str, str]:
        """Parameters the local stack sets: the stage, and the app's origin, which is the local API
        server's ``/app`` (the example page), so its redirects are complete without a body."""
        wanted = {"Stage": self.config.stage, "AppOrigin": f"{self.api_url}/app", "AppCorsOrigin": self.api_url}
        return {k: v for k, v in wanted.items() if k in declared}

    def _seed_catalog(self, template: Template) -> list[str]:
        """The allowed prices, their products' features and the portal configuration, in the
        emulator before the webhook endpoint exists (``catalog.py``)."""
        import stripe

        keys = [k.strip() for k in template.parameters.get("AllowedPriceLookupKeys", "").split(",") if k.strip()]
        if not keys:
            return []
        client = stripe.StripeClient(API_KEY, base_addresses={"api": self.stripe_url})
        catalog.seed(client, keys, return_url=template.parameters.get("AppOrigin", f"{self.api_url}/app"))
        return keys

    def _api_app(self) -> Any:
        """The template's HTTP APIs (JWT authorizers verified with the local pool's keys) and the
        example app page at ``/app/``."""
        assert self.provisioned is not None
        page = app_page.routes({
            "region": REGION, "cognito_endpoint": self.aws_url, "user_pool_id": self.provisioned.user_pool_id,
            "client_id": self.provisioned.client_id, "api": self.api_url, "prices": self.prices})
        return build_app(self.provisioned.routes, self.runtime.invoke, JwtVerifier(local_jwks_url(self.aws_url)),
                         extra=page)

    @property
    def log_dir(self) -> Path:
        """Where each function's log is written (``<function name>.log``)."""
        return self.config.state_dir / "logs"

    @staticmethod
    def _credentials() -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def _function_env(self) -> dict[str, str]:
        """What the stack adds to every function's environment so its clients reach the stack."""
        return {"AWS_ENDPOINT_URL": self.aws_url, **self._credentials(), "STRIPE_API_BASE": self.stripe_url}

    def _register_webhook(self, template: Template) -> str:
        """Point the emulator's webhooks at the template's ingress route, if it has one."""
        import stripe

        has_route = any(
            ev.get("Type") == "HttpApi" and ev.get("Properties", {}).get("Path") == WEBHOOK_PATH
            for res in template.of_type("AWS::Serverless::Function").values()
            for ev in (res.get("Properties", {}).get("Events") or {}).values()
        )
        if not has_route:
            return "whsec_" + secrets.token_hex(16)
        client = stripe.StripeClient(API_KEY, base_addresses={"api": self.stripe_url})
        endpoint = client.webhook_endpoints.create(params={"url": f"{self.api_url}{WEBHOOK_PATH}",
                                                           "enabled_events": ["*"]})
        return str(endpoint.secret)

    def _create_stripe_secret(self, template: Template, webhook_secret: str) -> None:
        """The two secrets the template names: the API key, and the webhook signing secrets (the
        ingress may read only the latter)."""
        values = {
            "StripeSecretName": {"api_key": API_KEY},
            "StripeWebhookSecretName": {"webhook_secret": webhook_secret, "webhook_secret_previous": ""},
        }
        for parameter, value in values.items():
            name = template.parameters.get(parameter)
            if name:
                self.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(value))

    def _register_stack(self) -> None:
        assert self.provisioned is not None
        outputs = self.provisioned.outputs
        body = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "linkflow local stack: resources are provisioned by linkflow local up",
            "Resources": {"LocalStackMarker": {"Type": "AWS::SSM::Parameter", "Properties": {
                "Name": f"/{self.config.stack_name}/provisioned-by", "Type": "String", "Value": "linkflow local up"}}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items()},
        }
        self.client("cloudformation").create_stack(StackName=self.config.stack_name, TemplateBody=json.dumps(body))

    def _write_state(self, webhook_secret: str) -> LocalInfo:
        assert self.provisioned is not None
        info: LocalInfo = {
            "region": REGION,
            "stack": self.config.stack_name,
            "endpoints": {"aws": self.aws_url, "stripe": self.stripe_url, "api": self.api_url},
            "stripe": {"api_key": API_KEY, "webhook_secret": webhook_secret, "prices": self.prices},
            "cognito": {"user_pool_id": self.provisioned.user_pool_id, "client_id": self.provisioned.client_id},
            "wait_time_scale": self.config.wait_time_scale,
            "schedules": self.config.schedules,
            "pid": os.getpid(),
            "logs": str(self.log_dir.resolve()),
            "outputs": self.provisioned.outputs,
            "resources": self.provisioned.resources,
        }
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.config.state_dir / "local.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        os.chmod(tmp, 0o600)  # it holds the emulator's test key and webhook secret
        tmp.replace(path)
        return info

    def export_lines(self) -> list[str]:
        from .exports import export_lines

        return export_lines(self.info)


__all__ = ["LocalStack", "LocalStackConfig", "TemplateError"]
