"""The product as a user gets it: the wheel installed into a virtualenv of its own, with
the runtime dependencies, pytest and grafana-client only, runs the example project's tests
(examples/user-provisioning) with a plain `pytest` - the fixture comes by entry point.

The virtualenv lives in the system's temporary directory, outside the checkout
(grafana-userapi-example-venvs/), and is made afresh whenever the set of requirements
changes (its name records their digest); otherwise only the wheel is reinstalled, so a run
costs a wheel build and the example's tests, not a dependency install.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from tests.test_serve_command import clean_environment

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "user-provisioning"
EXAMPLE_DEPENDENCIES = ["grafana-client>=5,<6", "pyyaml>=6"]
DEV_ONLY = {"schemathesis", "hypothesis", "mypy", "ruff", "openapi-spec-validator", "coverage"}


def run(*command: str | Path, cwd: Path = ROOT, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd, env=clean_environment(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    required = [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    return sorted(r for r in required if "extra ==" not in r or "extra == 'testing'" in r)


# Outside the checkout: a virtualenv's files are not the project's, and no tool scanning the
# checkout should read them.
VENVS = Path(tempfile.gettempdir()) / "grafana-userapi-example-venvs"


def venv_for(wanted: list[str]) -> Path:
    """A virtualenv holding exactly `wanted` (made afresh when the list changes)."""
    digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:12]
    venv = VENVS / f"example-venv-{digest}"
    python = venv / "bin" / "python"
    if not (venv / "complete").exists():
        for old in VENVS.glob("example-venv-*"):
            shutil.rmtree(old)
        run(sys.executable, "-m", "venv", venv)
        run(python, "-m", "pip", "install", "--quiet", *wanted)
        (venv / "complete").touch()
    return python


@pytest.mark.slow
def test_the_wheel_in_a_fresh_virtualenv_runs_the_examples_tests_with_pytest_alone(
    tmp_path: Path,
) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp_path, ROOT)
    (wheel,) = tmp_path.glob("grafana_userapi-*.whl")
    wheel_requirements = [r.split(";")[0].strip() for r in requirements(wheel)]
    python = venv_for(sorted(wheel_requirements + EXAMPLE_DEPENDENCIES))
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", wheel)
    installed = {line.split("==")[0].lower() for line in run(python, "-m", "pip", "freeze").split()}
    assert "grafana-userapi" in installed and "grafana-client" in installed
    assert not installed & DEV_ONLY
    project = tmp_path / "user-provisioning"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    output = run(python.parent / "pytest", "-p", "no:cacheprovider", cwd=project)
    assert " passed" in output and "failed" not in output and "error" not in output.lower()
    assert "9 passed" in output
