"""Mask secrets and emails in what the CLI prints (execution input/output, errors and causes).

- values under keys that name a secret (``api_key``, ``secret``, ``password``, ``token``, ...) → ``***``
- Stripe keys and webhook secrets anywhere in text (``sk_live_...``, ``whsec_...``) → ``sk_live_***``
- emails anywhere in text → ``a***@example.com``
- JSON carried inside a string (a Lambda error's cause) is masked field by field and kept a string
"""

from __future__ import annotations

import json
import re
from typing import Any

from linkflow_shared.models import mask_email

MASK = "***"
_SECRET_KEY = re.compile(
    r"api[_-]?key|secret|passw(or)?d|token|authorization|credential|private[_-]?key|signature", re.IGNORECASE
)
_SECRET_VALUE = re.compile(r"\b((?:sk|rk)_(?:live|test)_|whsec_)[A-Za-z0-9_+/=]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def mask_text(text: str) -> str:
    """``text`` with Stripe secrets and emails masked (no key context)."""
    text = _SECRET_VALUE.sub(lambda m: m.group(1) + MASK, text)
    return _EMAIL.sub(lambda m: mask_email(m.group(0)), text)


def _mask_string(text: str) -> str:
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict | list):
            return json.dumps(mask(parsed), separators=(",", ":"))
    return mask_text(text)


def mask(value: Any) -> Any:
    """A copy of ``value`` (JSON-like) with every secret and email masked."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and is_secret_key(k) and v not in (None, "") else mask(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return _mask_string(value)
    return value
