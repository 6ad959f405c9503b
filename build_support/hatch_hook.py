"""Builds the wheel's one import package, `grafana_userapi`, from the repository's layout.

The repository keeps its top-level packages (`handlers`, `contract`, ...), importing each
other absolutely (`from handlers.store import Store`). An installed copy must not claim
those generic names in someone else's environment, so the wheel carries them under
`grafana_userapi.` with every absolute import of them rewritten to the new name. Only
import statements are rewritten (found with `ast`, not by text search); names the code
builds from strings follow from `__name__` or `__package__` and need no rewriting.

An editable install (`pip install -e .`) keeps the repository on the path and adds a small
`grafana_userapi` package (editable_init.py) that answers `grafana_userapi.handlers` with the
`handlers` module itself, so entry points name one module in both kinds of install.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NAME = "grafana_userapi"
PACKAGES = ("contract", "handlers", "conformance", "library_patches", "testing")
SKIPPED = {"__pycache__", ".mypy_cache", ".pytest_cache"}


def rewrite_imports(source: str) -> str:
    """`source` with its absolute imports of PACKAGES moved under NAME."""
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []  # line, start column, end column, text
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in PACKAGES:
                line = lines[node.lineno - 1]
                start = line.index("from", node.col_offset) + len("from")
                at = line.index(node.module, start)
                edits.append((node.lineno, at, at + len(node.module), f"{NAME}.{node.module}"))
        elif isinstance(node, ast.Import):
            names = [alias for alias in node.names if alias.name.split(".")[0] in PACKAGES]
            if not names:
                continue
            if len(node.names) != 1 or node.lineno != node.end_lineno:
                raise ValueError(f"line {node.lineno}: import one package per statement")
            alias = node.names[0]
            if alias.asname:
                text = f"import {NAME}.{alias.name} as {alias.asname}"
            else:  # `import a.b` binds `a`: bind it to the moved package
                head = alias.name.split(".")[0]
                text = f"import {NAME}.{alias.name}; from {NAME} import {head}"
            end = node.end_col_offset
            assert end is not None
            edits.append((node.lineno, node.col_offset, end, text))
    for lineno, start, end, text in sorted(edits, reverse=True):
        line = lines[lineno - 1]
        lines[lineno - 1] = line[:start] + text + line[end:]
    return "".join(lines)


def write_parsed(root: Path, spec: Path) -> None:
    """Beside the wheel's openapi.yaml, the document already parsed (contract/parsed.py:
    the installed server loads JSON at start instead of parsing YAML)."""
    location = importlib.util.spec_from_file_location(
        f"{NAME}_build_parsed", root / "contract" / "parsed.py"
    )
    assert location is not None and location.loader is not None
    parsed = importlib.util.module_from_spec(location)
    location.loader.exec_module(parsed)
    parsed.write(spec)


def stage(root: Path, target: Path) -> None:
    """Write the `grafana_userapi` package into `target`."""
    package = target / NAME
    for name in PACKAGES:
        for path in sorted((root / name).rglob("*")):
            relative = path.relative_to(root)
            if path.is_dir() or SKIPPED & set(relative.parts) or path.suffix == ".pyc":
                continue
            destination = package / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".py":
                destination.write_text(rewrite_imports(path.read_text(encoding="utf-8")))
            else:
                shutil.copyfile(path, destination)
    shutil.copyfile(root / "openapi.yaml", package / "contract" / "openapi.yaml")
    write_parsed(root, package / "contract" / "openapi.yaml")
    (package / "__init__.py").write_text(
        '"""Grafana\'s User HTTP API, spec first: the contract, a reference server, a'
        ' conformance suite\nand a fake Grafana for tests (grafana_userapi.testing)."""\n'
    )


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if version == "editable":
            alias = root / "build_support" / "editable_init.py"
            build_data["force_include_editable"][str(alias)] = f"{NAME}/__init__.py"
            return
        self._staging = Path(tempfile.mkdtemp(prefix="grafana-userapi-wheel-"))
        stage(root, self._staging)
        build_data["force_include"][str(self._staging / NAME)] = NAME

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        staging = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
