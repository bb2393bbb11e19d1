"""Read template.yaml and resolve the CloudFormation intrinsics the local stack needs.

Supported: ``Ref`` (parameters, pseudo parameters, resources), ``Fn::Sub`` (both forms),
``Fn::GetAtt``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``. Anything else is reported with the
path where it was found, so a template the stack cannot provision fails loudly.

Conditions are evaluated when the template is loaded, as CloudFormation does before it creates
anything: the ``Conditions`` section (``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``,
``Condition``) from the parameters and the local pseudo parameters; resources and outputs whose
``Condition`` is false are dropped; every ``Fn::If`` is replaced by its chosen branch; and a
``Ref: AWS::NoValue`` removes the property or list item it stands for. What the provisioner sees
is the template CloudFormation would deploy with those parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfn_tools import load_yaml  # type: ignore[import-untyped]  # cfn-flip ships no type information

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")
# What ``Conditions`` may reference besides parameters: the local stack's pseudo parameters.
LOCAL_PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
                "AWS::StackName": "linkflow-local", "AWS::URLSuffix": "amazonaws.com"}
_NO_VALUE = object()  # what ``Ref: AWS::NoValue`` evaluates to, until its container drops it


class TemplateError(Exception):
    """The template cannot be provisioned locally; the message names the resource."""


@dataclass
class Template:
    path: Path
    body: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)  # every declared condition's value

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


def load_template(path: str | Path, overrides: Mapping[str, str] | None = None,
                  pseudo: Mapping[str, str] | None = None) -> Template:
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
    conditions = evaluate_conditions(body.get("Conditions") or {}, params, pseudo or LOCAL_PSEUDO)
    return Template(path=path, body=apply_conditions(body, conditions), parameters=params, conditions=conditions)


def evaluate_conditions(declared: Mapping[str, Any], parameters: Mapping[str, str],
                        pseudo: Mapping[str, str]) -> dict[str, bool]:
    """The value of every condition of a ``Conditions`` section."""
    values: dict[str, bool] = {}
    visiting: set[str] = set()

    def condition(name: str, where: str) -> bool:
        if name in values:
            return values[name]
        if name not in declared:
            raise TemplateError(f"{where}: unknown condition {name}")
        if name in visiting:
            raise TemplateError(f"Conditions.{name}: refers to itself")
        visiting.add(name)
        values[name] = evaluate(declared[name], f"Conditions.{name}")
        visiting.discard(name)
        return values[name]

    def operand(node: Any, where: str) -> str:
        """A value Fn::Equals compares: a literal, a Ref to a parameter or pseudo parameter."""
        if isinstance(node, dict) and set(node) == {"Ref"}:
            ref = node["Ref"]
            if ref in parameters:
                return parameters[ref]
            if ref in pseudo:
                return pseudo[ref]
            raise TemplateError(f"{where}: a condition can only reference parameters, not {ref}")
        if isinstance(node, dict) and set(node) == {"Fn::Join"}:
            sep, parts = node["Fn::Join"]
            return str(sep).join(operand(p, where) for p in parts)
        if isinstance(node, dict | list):
            raise TemplateError(f"{where}: {json_key(node)} is not supported in a condition by the local stack")
        return str(node).lower() if isinstance(node, bool) else str(node)

    def evaluate(node: Any, where: str) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise TemplateError(f"{where}: a condition must be one Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition")
        ((key, arg),) = node.items()
        if key == "Condition":
            return condition(str(arg), where)
        if key == "Fn::Equals":
            left, right = arg
            return operand(left, where) == operand(right, where)
        if key == "Fn::Not":
            (inner,) = arg
            return not evaluate(inner, where)
        if key in ("Fn::And", "Fn::Or"):
            if not 2 <= len(arg) <= 10:
                raise TemplateError(f"{where}: {key} takes 2 to 10 conditions")
            results = [evaluate(c, where) for c in arg]
            return all(results) if key == "Fn::And" else any(results)
        raise TemplateError(f"{where}: {key} is not a condition function")

    for name in declared:
        condition(name, f"Conditions.{name}")
    return values


def json_key(node: Any) -> str:
    return next(iter(node)) if isinstance(node, dict) and node else type(node).__name__


def apply_conditions(body: dict[str, Any], conditions: Mapping[str, bool]) -> dict[str, Any]:
    """The template as deployed under ``conditions``: resources and outputs whose Condition is
    false dropped, ``Fn::If`` replaced by its branch, ``AWS::NoValue`` removed."""

    def kept(section: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec in (body.get(section) or {}).items():
            wanted = spec.get("Condition") if isinstance(spec, dict) else None
            if wanted is not None:
                if wanted not in conditions:
                    raise TemplateError(f"{section}.{name}: unknown condition {wanted}")
                if not conditions[wanted]:
                    continue
                spec = {k: v for k, v in spec.items() if k != "Condition"}
            out[name] = spec
        return out

    result = dict(body)
    for section in ("Resources", "Outputs"):
        if section in body:
            result[section] = kept(section)
    for section in ("Globals", "Resources", "Outputs"):
        if section in result:
            result[section] = _choose(result[section], conditions, section)
    return result


def _choose(node: Any, conditions: Mapping[str, bool], where: str) -> Any:
    if isinstance(node, list):
        items = [_choose(v, conditions, where) for v in node]
        return [v for v in items if v is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] == "AWS::NoValue":
        return _NO_VALUE
    if set(node) == {"Fn::If"}:
        name, if_true, if_false = node["Fn::If"]
        if name not in conditions:
            raise TemplateError(f"{where}: Fn::If names unknown condition {name}")
        return _choose(if_true if conditions[name] else if_false, conditions, where)
    chosen = {k: _choose(v, conditions, f"{where}.{k}") for k, v in node.items()}
    return {k: v for k, v in chosen.items() if v is not _NO_VALUE}


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
