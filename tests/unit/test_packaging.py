"""The SharedLayer's requirements.txt and pyproject.toml agree, and the layer imports nothing else.

The layer is built from ``functions/shared/requirements.txt`` (SAM ``BuildMethod: python3.12``);
tests and the local stack run it from pyproject's dependencies. If the two differed, a test would
pass against a library version the deployed layer never has.
"""

from __future__ import annotations

import ast
import sys
import tomllib

from packaging.requirements import Requirement
from unit_support import ROOT

LAYER = ROOT / "functions" / "shared"
RUNTIME_PROVIDED = {"boto3", "botocore"}  # in every Lambda Python runtime; pinned by pyproject alone
IMPORT_NAMES = {"aws_lambda_powertools": "aws-lambda-powertools"}


def layer_requirements() -> dict[str, Requirement]:
    lines = (LAYER / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {r.name.lower(): r for r in reqs}


def project_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {Requirement(r).name.lower(): Requirement(r) for r in project["dependencies"]}


def test_every_layer_requirement_is_the_projects_own():
    project = project_requirements()
    for name, req in layer_requirements().items():
        assert name in project, f"{name} is in the layer but not in pyproject.toml"
        assert (project[name].specifier, project[name].extras) == (req.specifier, req.extras), (
            f"{name}: layer {req} != pyproject {project[name]}"
        )


def test_the_layer_imports_only_what_it_requires():
    imported: set[str] = set()
    for path in (LAYER / "linkflow_shared").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    type_only = {name for name in imported if name.startswith("mypy_boto3_")}  # under TYPE_CHECKING only
    third_party = imported - set(sys.stdlib_module_names) - {"linkflow_shared"} - RUNTIME_PROVIDED - type_only
    required = {IMPORT_NAMES.get(name, name).lower() for name in third_party}
    assert required <= set(layer_requirements()), f"imported but not in requirements.txt: {required}"
    assert required == {"stripe", "pydantic", "aws-lambda-powertools"}
