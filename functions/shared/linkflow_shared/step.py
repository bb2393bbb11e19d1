"""The one doorway from Lambda into linkflow's steps, in the spirit of Powertools' ``event_parser``::

    @step(OnboardingInput)
    def handler(onboarding: OnboardingInput, deps: Deps) -> ProfileRecord:
        return write_profile(onboarding, profiles=deps.profiles)

The decorator reads the function's settings once (at import, from the environment the template
gives it), sets up logging and tracing, parses the event into the model (a failure is one
terminal :class:`~linkflow_shared.errors.InvalidStepInput` naming the model), builds a fresh
:class:`~linkflow_shared.deps.Deps`, calls the body, logs the result with personal data masked
and dumps it. Triggers answer Cognito with the event itself (``answer="event"``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, cast

from aws_lambda_powertools import Logger, Tracer
from pydantic import BaseModel

from .aws_clients import Profile
from .config import Settings
from .deps import Deps
from .models import Model, mask_email, parse_step_input

logger = Logger()
tracer = Tracer()

In = TypeVar("In", bound=BaseModel)
Handler = Callable[[Any, Any], Any]
Body = Callable[[In, Deps], Model | dict[str, Any] | None]

_PERSONAL = ("email", "givenname", "familyname", "name")


def redact(value: Any) -> Any:
    """``value`` with emails masked and names dropped, for a log line."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered == "body" and isinstance(item, str):  # an HTTP answer: redact what it says
                try:
                    out[key] = redact(json.loads(item))
                except ValueError:
                    out[key] = "<not JSON>"
            elif "email" in lowered and isinstance(item, str):
                out[key] = mask_email(item)
            elif lowered in _PERSONAL:
                out[key] = "<redacted>" if item else item
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def step(
    model: type[In], *, profile: Profile = "task", answer: Literal["result", "event"] = "result"
) -> Callable[[Body[In]], Handler]:
    settings = Settings.from_env()

    def wrap(body: Body[In]) -> Handler:
        def handler(event: Any, context: Any) -> Any:
            parsed = parse_step_input(model, event)
            result = body(parsed, Deps(settings, profile=profile))
            dumped = result.dump() if isinstance(result, Model) else result
            logger.info("step finished", extra={"input": model.__name__, "result": redact(dumped)})
            return event if answer == "event" else dumped

        traced = tracer.capture_lambda_handler(handler, capture_response=False)
        doorway = logger.inject_lambda_context(traced)
        vars(doorway)["step_input"] = model  # what the structure tests read: the model this handler parses
        return cast(Handler, doorway)

    return wrap
