"""The Cognito snapshot's ListUsers pages: a transient failure is asked again with the same token
(one slow answer does not fail or restart the listing), a lasting one reaches the state's retrier
as ``CognitoUnavailable``, a rejection is not retried."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from linkflow_shared.errors import CognitoRequestRejected, CognitoUnavailable
from linkflow_shared.reconcile import snapshot
from unit_support import listed_user


class FlakyCognito:
    """Three pages of two users; ``failures[token]`` answers fail before each page succeeds."""

    def __init__(self, failures: dict[str | None, list[Exception]]) -> None:
        self.failures = failures
        self.calls: list[str | None] = []

    def list_users(self, **kwargs: Any) -> dict[str, Any]:
        token = kwargs.get("PaginationToken")
        assert kwargs["UserPoolId"] == "pool"
        self.calls.append(token)
        if self.failures.get(token):
            raise self.failures[token].pop(0)
        start = {None: 0, "t2": 2, "t3": 4}[token]
        page: dict[str, Any] = {"Users": [listed_user(start), listed_user(start + 1)]}
        if start < 4:
            page["PaginationToken"] = f"t{start // 2 + 2}"
        return page


def _timeout() -> Exception:
    return ReadTimeoutError(endpoint_url="http://127.0.0.1:4566/")


def test_a_page_that_times_out_is_asked_again_with_its_token():
    idp = FlakyCognito({"t2": [_timeout(), _timeout()],
                        "t3": [ClientError({"Error": {"Code": "TooManyRequestsException"}}, "ListUsers")]})
    slept: list[float] = []
    entries = list(snapshot.cognito_entries(idp, "pool", sleep=slept.append))  # type: ignore[arg-type]

    assert [e.sub for e in entries] == [f"sub-{n}" for n in range(6)]
    assert idp.calls == [None, "t2", "t2", "t2", "t3", "t3"]
    assert slept == [0.5, 1.0, 0.5]


def test_a_page_failing_every_attempt_is_cognito_unavailable_for_the_state_retrier():
    idp = FlakyCognito({"t2": [_timeout() for _ in range(snapshot.PAGE_ATTEMPTS)]})
    with pytest.raises(CognitoUnavailable):
        list(snapshot.cognito_entries(idp, "pool", sleep=lambda _s: None))  # type: ignore[arg-type]
    assert idp.calls == [None] + ["t2"] * snapshot.PAGE_ATTEMPTS


def test_a_rejected_listing_is_not_retried():
    idp = FlakyCognito({None: [ClientError({"Error": {"Code": "NotAuthorizedException"}}, "ListUsers")]})
    with pytest.raises(CognitoRequestRejected):
        list(snapshot.cognito_entries(idp, "pool", sleep=lambda _s: None))  # type: ignore[arg-type]
    assert idp.calls == [None]
