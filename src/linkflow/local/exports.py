"""The ``export`` lines ``linkflow local up`` prints: what any AWS tool, the operator CLI and the
``stripe`` SDK need to reach a local stack.

Both region variables: boto3 and AWS CLI v1 read only ``AWS_DEFAULT_REGION``, CLI v2 and the
SDKs of other languages ``AWS_REGION``. The stack accepts any credentials, but every AWS tool
refuses to sign without some: the lines keep the shell's own when it has them
(``${AWS_ACCESS_KEY_ID:-testing}``) and set dummy ones otherwise.
"""

from __future__ import annotations

from .client import REGION, LocalInfo


def export_lines(info: LocalInfo) -> list[str]:
    """``export`` lines for a POSIX shell (``eval "$(linkflow local up --detach | grep ^export)"``)."""
    region = info.get("region", REGION)
    return [
        f"export AWS_ENDPOINT_URL={info['endpoints']['aws']}",
        f"export AWS_REGION={region} AWS_DEFAULT_REGION={region}",
        'export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" '
        'AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"',
        f"export LINKFLOW_STACK={info.get('stack', 'linkflow-local')}",
        f"export STRIPE_API_BASE={info['endpoints']['stripe']}",
        f"export STRIPE_API_KEY={info['stripe']['api_key']}",
    ]


__all__ = ["export_lines"]
