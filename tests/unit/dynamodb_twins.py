"""What the DynamoDB equivalence tests share: moto as it is (``MOTO`` region) against the stack's
patches (``FAST`` region) in one mocked account, each side installed for a block only."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from linkflow.local import dynamodb_speed, dynamodb_update

MOTO, FAST = "us-east-1", "eu-west-1"


def moto_functions() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, moto's own function) for each of the stack's DynamoDB patches: the module that
    patches keeps moto's own under the replacement's name."""
    functions = []
    for owner, name, replacement in dynamodb_speed.patches():
        function = getattr(replacement, "__func__", replacement)  # a classmethod's function
        functions.append((owner, name, sys.modules[function.__module__]._moto[function.__name__]))
    return functions


@contextmanager
def moto_as_is() -> Iterator[None]:
    """moto's own functions for the block, whatever else in this process installed."""
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, function in moto_functions():
            patch.setattr(owner, name, function)
        yield


@contextmanager
def speed_patches() -> Iterator[pytest.MonkeyPatch]:
    """dynamodb_speed's patches (dynamodb_update's and dynamodb_put's among them) for the block only,
    with empty caches; the block gets the MonkeyPatch to add its own."""
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, replacement in dynamodb_speed.patches():
            patch.setattr(owner, name, replacement)
        patch.setattr(dynamodb_speed, "_parsed", {})
        for cache in ("_plans", "_conditions"):
            patch.setattr(dynamodb_update, cache, {})
        yield patch


@contextmanager
def counting_fast_path(module: Any, fast_answers: list[bool]) -> Iterator[None]:
    """The stack's patches with empty caches; ``fast_answers`` gets, per request ``module._fast`` saw,
    whether the fast path answered (its own ConditionalCheckFailed counts as answered)."""
    fast = module._fast

    def counted(handler: Any) -> Any:
        try:
            answer = fast(handler)
        except Exception:  # the fast path's own ConditionalCheckFailed
            fast_answers.append(True)
            raise
        fast_answers.append(answer is not None)
        return answer

    with speed_patches() as patch:
        patch.setattr(module, "_fast", counted)
        yield


def call_with_status(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """The answer without its metadata, or the error with its HTTP status (or moto's own exception)."""
    try:
        answer: dict[str, Any] = getattr(client, operation)(**params)
    except ClientError as error:
        response = dict(error.response)
        status = response.pop("ResponseMetadata")["HTTPStatusCode"]
        return {"Status": status, **response}
    except Exception as error:  # moto's own bugs (a KeyError for an undefined #name) must stay the same
        return {"Error": type(error).__name__, "Message": str(error)}
    answer.pop("ResponseMetadata", None)
    return answer
