"""Parse each state machine definition once, not once per execution.

moto's ``ExecutionWorker`` parses the ASL (an ANTLR parse, then a preprocessing pass) every time an
execution starts: about 60-120 ms of the stack's one GIL per execution of the onboarding machine.
The parsed program holds no execution state (moto itself evaluates one program from many threads:
Parallel branches, Map iterations), so every execution of a definition shares one; a caller that
changes the program (a redrive starting at another state) changes a copy.
"""

from __future__ import annotations

import threading
from typing import Any

_cache: dict[str, Any] = {}
_lock = threading.Lock()
MAX_DEFINITIONS = 256  # definitions differ by machine and revision: a handful in practice


def program(definition: str) -> Any:
    """The evaluation entrypoint of ``definition``, parsed on first use."""
    found = _cache.get(definition)
    if found is not None:
        return found
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parsed = AmazonStateLanguageParser.parse(definition)[0]
    with _lock:
        if len(_cache) >= MAX_DEFINITIONS:
            _cache.clear()
        return _cache.setdefault(definition, parsed)


def install() -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def _get_evaluation_entrypoint(self: Any) -> Any:
        return program(self._evaluation_details.state_machine_details.definition)

    ExecutionWorker._get_evaluation_entrypoint = _get_evaluation_entrypoint  # type: ignore[method-assign]
