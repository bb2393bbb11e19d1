"""Where the local stack's internal logging goes: a file in the state dir, never the console.

moto logs every failed ASL state with the whole error payload (``Exception=FailureEventException,
Error=..., Details={...}``: kilobytes per line), and with no handler configured Python prints
warnings and errors on stderr. uvicorn (the API server, the Stripe emulator) configures handlers of
its own on stderr when a server starts. The console of ``linkflow local up`` and of the demo is for
people: internals go to ``<state-dir>/local.log``.
"""

from __future__ import annotations

import logging
from pathlib import Path

LOG_NAME = "local.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers that get handlers of their own (uvicorn's dictConfig): made to propagate to the file instead.
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "werkzeug")


def route_to_file(path: Path) -> logging.Handler:
    """Send every log record of level INFO (moto, werkzeug, uvicorn, the stack's own) and above
    to ``path`` and none to the console. Call again after a server starts: uvicorn installs its
    console handlers then. Answers the file handler (``logging.getLogger().removeHandler``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, logging.FileHandler)
                    and Path(h.baseFilename) == path.resolve()), None)
    if handler is None:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FORMAT))
        for old in [h for h in root.handlers if _is_console(h)]:
            root.removeHandler(old)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in _OWN_HANDLERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if _is_console(h)]:
            logger.removeHandler(old)
        logger.propagate = True
    # moto's own request-level chatter is DEBUG/INFO noise even in a file
    logging.getLogger("botocore").setLevel(logging.WARNING)
    return handler


def _is_console(handler: logging.Handler) -> bool:
    # exactly StreamHandler: subclasses (files, pytest's capture) stay
    return type(handler) is logging.StreamHandler


__all__ = ["LOG_NAME", "route_to_file"]
