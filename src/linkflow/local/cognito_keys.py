"""A user pool's signing keys on the local AWS endpoint, where Cognito publishes them:
``GET /<pool id>/.well-known/jwks.json`` and ``GET /<pool id>/.well-known/openid-configuration``.

moto serves both only on its own port (its dispatcher finds no service for such a path on a
shared endpoint); here they are answered by moto's own handlers, so the keys are the ones moto
signs tokens with. An unknown pool is a 404.
"""

from __future__ import annotations

import json
import re
from typing import Any

WELL_KNOWN = re.compile(r"^/(?P<pool>(?P<region>[a-z]{2}(-[a-z]+)+-\d)_[0-9A-Za-z]+)/\.well-known/"
                        r"(?P<document>jwks\.json|openid-configuration)$")

Answer = tuple[int, list[tuple[str, str]], bytes]


def answer(environ: dict[str, Any]) -> Answer | None:
    """The answer to a well-known request of a pool, or None when the path is not one."""
    path = environ.get("PATH_INFO", "")
    match = WELL_KNOWN.match(path)
    if match is None or environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
        return None
    from moto.cognitoidp.models import cognitoidp_backends
    from moto.cognitoidp.responses import CognitoIdpJsonWebKeyResponse, CognitoIdpOpenIdConfigurationResponse
    from moto.core.models import DEFAULT_ACCOUNT_ID

    pool = match.group("pool")
    if pool not in cognitoidp_backends[DEFAULT_ACCOUNT_ID][match.group("region")].user_pools:
        body = json.dumps({"message": f"User pool {pool} does not exist."}).encode()
        return 404, [("Content-Type", "application/json")], body
    if match.group("document") == "jwks.json":
        status, headers, content = CognitoIdpJsonWebKeyResponse.serve_json_web_key()
    else:
        url = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', 'localhost')}{path}"
        status, headers, content = CognitoIdpOpenIdConfigurationResponse.serve_openid_configuration(None, url, None)
    raw = content.encode() if isinstance(content, str) else bytes(content)
    return int(status), [(str(k), str(v)) for k, v in dict(headers).items()], raw
