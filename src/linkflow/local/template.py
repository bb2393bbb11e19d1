"""Read template.yaml and resolve the CloudFormation intrinsics the local stack needs.

Supported: ``Ref`` (parameters, pseudo parameters, resources), ``Fn::Sub`` (both forms),
``Fn::GetAtt``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``. Anything else is reported with the
path where it was found, so a template the stack cannot provision fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfn_tools import load_yaml  # type: ignore[import-untyped]  # cfn-flip ships no type information

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(Exception):
    """The template cannot be provisioned locally; the message names the resource."""


@dataclass
class Template:
    path: Path
    body: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body.get("Resources", {})
        return resources

    @property
    def globals_function(self) -> dict[str, Any]:
        function: dict[str, Any] = self.body.get("Globals", {}).get("Function", {})
        return function

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") in types}


def load_template(path: str | Path, overrides: Mapping[str, str] | None = None) -> Template:
    path = Path(path)
    if not path.is_file():
        raise TemplateError(f"template not found: {path}")
    try:
        body = load_yaml(path.read_text())
    except Exception as exc:  # yaml errors come in many classes; report them all the same way
        raise TemplateError(f"{path}: not a valid YAML template: {exc}") from exc
    body = _plain(body)
    params: dict[str, str] = {}
    declared = body.get("Parameters", {}) or {}
    for name, spec in declared.items():
        if overrides and name in overrides:
            params[name] = str(overrides[name])
        elif "Default" in spec:
            params[name] = str(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no Default and no override was given")
    unknown = set(overrides or {}) - set(declared)
    if unknown:
        raise TemplateError(f"override for undeclared parameter(s): {', '.join(sorted(unknown))}")
    return Template(path=path, body=body, parameters=params)


def _plain(node: Any) -> Any:
    """cfn_tools returns ODict/TagNode subclasses; turn them into plain dicts and lists."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


RefResolver = Callable[[str], str]
AttResolver = Callable[[str, str], str]


@dataclass
class Resolver:
    """Resolves intrinsics given how to name resources (``ref``) and their attributes (``get_att``)."""

    template: Template
    pseudo: dict[str, str]
    ref: RefResolver
    get_att: AttResolver

    def _ref(self, name: str) -> str:
        if name in self.template.parameters:
            return self.template.parameters[name]
        if name in self.pseudo:
            return self.pseudo[name]
        return self.ref(name)

    def _sub(self, text: str, extra: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            var = match.group(1)
            if var in extra:
                return str(extra[var])
            if "." in var:
                logical, attr = var.split(".", 1)
                return self.get_att(logical, attr)
            return self._ref(var)

        return _SUB_VAR.sub(replace, text).replace("${!", "${")

    def resolve(self, node: Any, where: str = "") -> Any:
        if isinstance(node, list):
            return [self.resolve(v, where) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return self._ref(value)
            if key == "Fn::Sub":
                if isinstance(value, list):
                    text, variables = value
                    return self._sub(text, {k: self.resolve(v, where) for k, v in variables.items()})
                return self._sub(value, {})
            if key == "Fn::GetAtt":
                logical, attr = value.split(".", 1) if isinstance(value, str) else value
                return self.get_att(logical, attr)
            if key == "Fn::Join":
                sep, parts = value
                return sep.join(str(p) for p in self.resolve(parts, where))
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items, where)[int(self.resolve(index, where))]
            if key == "Fn::Split":
                sep, text = value
                return str(self.resolve(text, where)).split(sep)
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"{where}: intrinsic {key} is not supported by the local stack")
        return {k: self.resolve(v, f"{where}.{k}" if where else k) for k, v in node.items()}
