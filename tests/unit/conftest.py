"""Unit-test fixtures built from template.yaml, so tests cannot drift from what is deployed.

- ``linkflow_shared`` is imported from ``functions/shared`` (the layer's ContentUri).
- ``aws``: moto in-process, with the template's tables (keys, GSIs) and a user pool shaped like
  the template's ``UserPool``.
- ``load_handler``: a function's ``app.py`` loaded by path under a module name of its own (every
  function has an ``app.py``), with the environment the template gives that function.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest
from unit_support import (
    REGION,
    ROOT,
    TEMPLATE,
    Aws,
    LambdaContext,
    create_tables,
    create_user_pool,
    function_env,
    table_names,
)


def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "STRIPE_API_BASE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")


@contextmanager
def _mocked(*, federated_usernames: bool) -> Iterator[Aws]:
    import boto3
    from linkflow_shared import aws_clients
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as monkeypatch:
        _aws_env(monkeypatch)
        aws_clients.clear_cache()
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name=REGION)
            create_tables(ddb)
            idp = boto3.client("cognito-idp", region_name=REGION)
            resource = boto3.resource("dynamodb", region_name=REGION)
            yield Aws(
                ddb=ddb,
                idp=idp,
                sfn=boto3.client("stepfunctions", region_name=REGION),
                pool_id=create_user_pool(idp, federated_usernames=federated_usernames),
                tables={lid: resource.Table(name) for lid, name in table_names().items()},
            )
        aws_clients.clear_cache()


@pytest.fixture
def aws() -> Iterator[Aws]:
    """A fresh mocked account per test."""
    with _mocked(federated_usernames=False) as account:
        yield account


@pytest.fixture
def aws_federated() -> Iterator[Aws]:
    """Like ``aws``, with a pool that accepts ``Google_<id>`` usernames (moto cannot federate)."""
    with _mocked(federated_usernames=True) as account:
        yield account


@pytest.fixture(scope="module")
def aws_module() -> Iterator[Aws]:
    """One mocked account for a module whose tests must all leave it untouched (and check that)."""
    with _mocked(federated_usernames=False) as account:
        yield account


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Callable[..., Any]]:
    """``load_handler("WriteProfileFunction")`` → that function's handler, loaded from its CodeUri
    with its template environment (the module reads it at import, as on Lambda)."""

    def load(logical_id: str) -> Callable[..., Any]:
        props = TEMPLATE["Resources"][logical_id]["Properties"]
        for key, value in function_env(logical_id).items():
            monkeypatch.setenv(key, value)
        module_file, func = props["Handler"].rsplit(".", 1)
        path = ROOT / props["CodeUri"] / f"{module_file}.py"
        name = f"linkflow_unit_fn.{logical_id}.{module_file}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, func)

    return load
