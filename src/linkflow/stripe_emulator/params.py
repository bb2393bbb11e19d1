"""Which parameters each endpoint accepts; anything else is refused before the endpoint runs.

Every handler declares its parameters with ``@accepts(...)`` in Stripe's bracket notation:
``"items[][price]"`` is the ``price`` of each element of the ``items`` array,
``"trial_settings[end_behavior][missing_payment_method]"`` a key of a nested object, and a plain
name a value of any shape (``metadata`` takes any keys). ``expand`` is accepted unless the endpoint
says ``expand=False`` (Stripe's deletes, but for subscriptions, take none).

A parameter that is not declared, at any depth, is answered as Stripe answers an unknown one:
400 ``parameter_unknown``, "Received unknown parameter: items[0][bogus]". A parameter Stripe has but
the emulator does not implement is not declared, so it is refused the same way instead of being
silently ignored: whatever the emulator accepts, it acts on. The router refuses a handler without a
declaration, so no endpoint can skip the check. A parameter implemented for some of Stripe's values
only (``proration_behavior=none``) is declared, and the handler refuses the other values with
``implemented_values``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import StripeError, invalid_request

H = TypeVar("H", bound=Callable[..., Any])

LIST = ("limit", "starting_after", "ending_before")
CREATED = ("created[gt]", "created[gte]", "created[lt]", "created[lte]")
SEARCH = ("query", "limit", "page")


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    each: _Node | None = None  # the elements of an array of objects

    def add(self, parts: list[str]) -> None:
        if not parts:
            return
        head, rest = parts[0], parts[1:]
        if head == "":
            self.each = self.each or _Node()
            self.each.add(rest)
        else:
            self.children.setdefault(head, _Node()).add(rest)

    def names(self, prefix: str) -> list[str]:
        if self.each is not None:
            return self.each.names(f"{prefix}[]")
        if not self.children:
            return [prefix]
        return [name for key, child in self.children.items() for name in child.names(f"{prefix}[{key}]")]


def _parts(name: str) -> list[str]:
    head, _, rest = name.partition("[")
    return [head, *rest.removesuffix("]").split("][")] if rest else [head]


def unknown_parameter(name: str) -> StripeError:
    return invalid_request(f"Received unknown parameter: {name}", param=name, code="parameter_unknown")


class Accepted:
    """The parameter tree of one endpoint."""

    def __init__(self, names: Iterable[str]) -> None:
        self._root = _Node()
        for name in names:
            self._root.add(_parts(name))

    def names(self) -> list[str]:
        """Every accepted parameter, in bracket notation (``[]`` for each array element)."""
        return [name for key, child in self._root.children.items() for name in child.names(key)]

    def check(self, params: dict[str, Any]) -> None:
        for key, value in params.items():
            child = self._root.children.get(key)
            if child is None:
                raise unknown_parameter(key)
            _check(child, value, key)


def _check(node: _Node, value: Any, path: str) -> None:
    # A value of the wrong shape (a string for an object, ...) is the handler's to refuse.
    if node.children and isinstance(value, dict):
        for key, item in value.items():
            child = node.children.get(key)
            if child is None:
                raise unknown_parameter(f"{path}[{key}]")
            _check(child, item, f"{path}[{key}]")
    elif node.each is not None and isinstance(value, list):
        for index, item in enumerate(value):
            _check(node.each, item, f"{path}[{index}]")


def implemented_values(params: dict[str, Any], name: str, *values: str) -> None:
    """Refuse the values of ``name`` the emulator does not implement (a 400 on ``name``)."""
    value = params.get(name)
    if value is not None and value not in values:
        raise invalid_request(f"The Stripe emulator does not implement {name}={value} (only "
                              f"{', '.join(values)}).", param=name)


_DECLARED: dict[Callable[..., Any], Accepted] = {}


def accepts(*names: str, expand: bool = True) -> Callable[[H], H]:
    """Declare the parameters a handler accepts (and ``expand``, unless ``expand=False``)."""

    def declare(handler: H) -> H:
        _DECLARED[handler] = Accepted(("expand", *names) if expand else names)
        return handler

    return declare


def accepted(handler: Callable[..., Any]) -> Accepted:
    """The declaration of ``handler``; a handler without one is a programming error."""
    try:
        return _DECLARED[handler]
    except KeyError:
        raise TypeError(f"{handler.__module__}.{handler.__qualname__} declares no parameters (@accepts)") from None
