"""Packaging is checked, not assumed: `sam validate --lint` and `sam build` on template.yaml.

aws-sam-cli is large (about 340 MB with its dependencies) and pins its own boto3, cfn-lint and
Flask, so it is not a dev dependency of the project's virtualenv: the first run installs the
pinned version into a virtualenv of its own, `.venv/sam-cli` (a few minutes, from the package
index), later runs reuse it. `sam build` builds every function and the layer for the template's
runtime (python3.12, arm64): pip takes the layer's dependencies from the package index as
manylinux aarch64 wheels, so it needs a python3.12 interpreter and the index, nothing else
(no Docker, no AWS account). Without a python3.12 on the machine the build test skips, naming it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cfn_tools import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SAM_CLI_VERSION = "1.170.0"
SAM_VENV = ROOT / ".venv" / "sam-cli"


@pytest.fixture(scope="module")
def sam() -> Path:
    exe = SAM_VENV / "bin" / "sam"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SAM_VENV)], check=True, timeout=300)
        install = subprocess.run([str(SAM_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                                  f"aws-sam-cli=={SAM_CLI_VERSION}"], capture_output=True, text=True, timeout=1200)
        assert install.returncode == 0, install.stderr[-3000:]
    return exe


def _env(path_prefix: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", SAM_CLI_TELEMETRY="0",
               AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env.get('PATH', '')}"
    return env


def _python312() -> str | None:
    """A directory holding a working python3.12 (pyenv's shim only works when 3.12 is active)."""
    candidates = [os.path.dirname(p) for p in glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))]
    found = shutil.which("python3.12")
    if found:
        candidates.append(os.path.dirname(found))
    for directory in candidates:
        ok = subprocess.run([os.path.join(directory, "python3.12"), "--version"], capture_output=True, timeout=30)
        if ok.returncode == 0:
            return directory
    return None


def test_sam_validate_lint(sam):
    result = subprocess.run([str(sam), "validate", "--lint", "--template", "template.yaml"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env=_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_sam_build_packages_every_function_and_the_layer_for_arm64(sam, tmp_path):
    python312 = _python312()
    if python312 is None:
        pytest.skip("sam build for the python3.12 runtime needs a python3.12 interpreter on this machine")
    build = tmp_path / "build"
    result = subprocess.run([str(sam), "build", "--template", "template.yaml", "--build-dir", str(build)], cwd=ROOT,
                            capture_output=True, text=True, timeout=1200, env=_env(python312))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    built = load_yaml((build / "template.yaml").read_text())
    functions = {k for k, v in built["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    for logical_id in functions:
        assert (build / logical_id / "app.py").is_file(), logical_id
    layer = build / "SharedLayer" / "python"
    assert (layer / "linkflow_shared" / "__init__.py").is_file()
    # the layer's compiled dependencies are the Lambda runtime's: CPython 3.12 on arm64
    assert list(layer.glob("pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so"))
