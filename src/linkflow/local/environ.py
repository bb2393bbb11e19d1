"""A process environment with a per-thread overlay.

Lambda handlers run in-process, concurrently, each with its own function environment (table
names, service name...). ``os.environ`` is process-global, so the local stack swaps it for this
mapping: reads see the calling thread's overlay first, then the real environment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

_local = threading.local()


class OverlayEnviron(os._Environ[str]):
    def _overlay(self) -> Mapping[str, str]:
        return getattr(_local, "overlay", None) or {}

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        if key in overlay:
            return overlay[key]
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        return key in self._overlay() or super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        overlay = self._overlay()
        yield from overlay
        for key in super().__iter__():
            if key not in overlay:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self)


def install() -> None:
    """Replace ``os.environ`` by an overlay-aware mapping sharing the same data (idempotent)."""
    if isinstance(os.environ, OverlayEnviron):
        return
    env = os.environ
    os.environ = OverlayEnviron(  # noqa: B003 (same data, new view)
        env._data, env.encodekey, env.decodekey, env.encodevalue, env.decodevalue  # type: ignore[attr-defined]
    )


@contextmanager
def overlay(values: Mapping[str, str]) -> Iterator[None]:
    """Make ``values`` visible through ``os.environ`` in this thread only."""
    install()
    previous = getattr(_local, "overlay", None)
    _local.overlay = {**(previous or {}), **values}
    try:
        yield
    finally:
        _local.overlay = previous
