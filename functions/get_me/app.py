"""GET /me: the caller's profile and entitlement (status, plan, features, period and trial ends).

The two stores are built once per warm execution environment and kept across invocations, as
Lambda code keeps its clients outside the handler: building a boto3 ``Table`` resource costs about
as much CPU as the rest of the handler, twice per request otherwise. They are rebuilt if the
tables, the timeout profile or the endpoint, region or credentials they were built for change.
"""

import os
import threading
from typing import Any

from linkflow_shared.app_api import ApiRequest, get_me
from linkflow_shared.deps import Deps
from linkflow_shared.step import step
from linkflow_shared.stores import EntitlementsStore, ProfilesStore

_ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID")
_warm = threading.local()  # boto3 resources are not thread-safe: one pair per thread


def _stores(deps: Deps) -> tuple[ProfilesStore, EntitlementsStore]:
    s = deps.settings
    key = (s.user_profiles_table, s.entitlements_table, deps.profile, *(os.environ.get(v) for v in _ENVIRONMENT))
    kept = getattr(_warm, "stores", None)
    if kept is None or kept[0] != key:
        kept = _warm.stores = (key, (deps.profiles, deps.entitlements))
    stores: tuple[ProfilesStore, EntitlementsStore] = kept[1]
    return stores


@step(ApiRequest)
def handler(request: ApiRequest, deps: Deps) -> dict[str, Any]:
    profiles, entitlements = _stores(deps)
    return get_me(request, profiles=profiles, entitlements=entitlements).to_api_gateway()
