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


@pytest.fixture(scope="session")
def _boto() -> Iterator[dict[str, Any]]:
    """Clients made once: creating boto3 clients is the slow part of a mocked account. moto stubs
    every client created after it is imported, whenever a mock is active."""
    import boto3
    import moto  # noqa: F401  (imported first: its stub must be in every client below)
    from linkflow_shared import aws_clients

    with pytest.MonkeyPatch.context() as monkeypatch:
        _aws_env(monkeypatch)
        aws_clients.clear_cache()  # drop any client made before moto was imported
        yield {
            "ddb": boto3.client("dynamodb", region_name=REGION),
            "idp": boto3.client("cognito-idp", region_name=REGION),
            "sfn": boto3.client("stepfunctions", region_name=REGION),
            "resource": boto3.resource("dynamodb", region_name=REGION),
        }


@contextmanager
def _mocked(boto: dict[str, Any], *, federated_usernames: bool) -> Iterator[Aws]:
    from moto import mock_aws

    with mock_aws():
        create_tables(boto["ddb"])
        yield Aws(
            ddb=boto["ddb"],
            idp=boto["idp"],
            sfn=boto["sfn"],
            pool_id=create_user_pool(boto["idp"], federated_usernames=federated_usernames),
            tables={lid: boto["resource"].Table(name) for lid, name in table_names().items()},
        )


@pytest.fixture
def aws(_boto: dict[str, Any]) -> Iterator[Aws]:
    """A fresh mocked account per test."""
    with _mocked(_boto, federated_usernames=False) as account:
        yield account


@pytest.fixture
def aws_federated(_boto: dict[str, Any]) -> Iterator[Aws]:
    """Like ``aws``, with a pool that accepts ``Google_<id>`` usernames (moto cannot federate)."""
    with _mocked(_boto, federated_usernames=True) as account:
        yield account


@pytest.fixture(scope="module")
def aws_module(_boto: dict[str, Any]) -> Iterator[Aws]:
    """One mocked account for a module whose tests must all leave it untouched (and check that)."""
    with _mocked(_boto, federated_usernames=False) as account:
        yield account


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Callable[..., Any]]:
    """``load_handler("WriteProfileFunction")`` → that function's handler, loaded from its CodeUri
    with its template environment (the module reads it at import, as on Lambda)."""

    def load(logical_id: str, **env_overrides: str) -> Callable[..., Any]:
        props = TEMPLATE["Resources"][logical_id]["Properties"]
        for key, value in {**function_env(logical_id), **env_overrides}.items():
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
