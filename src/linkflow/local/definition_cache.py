"""Parse each state machine definition once, not once per execution, and each JSONPath once.

moto's ``ExecutionWorker`` parses the ASL (an ANTLR parse, then a preprocessing pass) every time an
execution starts: about 60-120 ms of the stack's one GIL per execution of the onboarding machine.
The parsed program holds no execution state (moto itself evaluates one program from many threads:
Parallel branches, Map iterations), so every execution of a definition shares one; a caller that
changes the program (a redrive starting at another state) changes a copy.

moto's engine also parses a JSONPath (``InputPath``, ``Parameters`` ``.$`` fields, ``ResultPath``,
``OutputPath``, Choice variables) every time it evaluates one: jsonpath_ng builds a new PLY parser
each time, about 0.4 ms of CPU against 4 us for the lookup itself, dozens of times per onboarding
execution. A parsed path holds no state (``find`` and ``update_or_create`` work on the data given),
so each path string is parsed once.
"""

from __future__ import annotations

import functools
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


MAX_PATHS = 4096  # distinct JSONPaths of every definition: a few hundred in practice


def install() -> None:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def _get_evaluation_entrypoint(self: Any) -> Any:
        return program(self._evaluation_details.state_machine_details.definition)

    ExecutionWorker._get_evaluation_entrypoint = _get_evaluation_entrypoint  # type: ignore[method-assign]
    for module in (json_path, result_path):  # jsonpath_ng.ext.parse and jsonpath_ng.parse, as each imported it
        namespace = vars(module)
        if not hasattr(namespace["parse"], "cache_info"):
            namespace["parse"] = functools.lru_cache(maxsize=MAX_PATHS)(namespace["parse"])
