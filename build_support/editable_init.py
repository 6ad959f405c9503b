"""grafana_userapi in an editable install: the repository's top-level packages under the
installed name, as the same module objects (`grafana_userapi.handlers` is `handlers`).

A wheel carries real copies under grafana_userapi/ instead (build_support/hatch_hook.py).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence

PACKAGES = ("contract", "handlers", "conformance", "library_patches", "testing")
__path__: list[str] = []  # a package: its submodules are found by the finder below


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        head, _, rest = fullname.partition(".")
        if head != __name__ or rest.split(".")[0] not in PACKAGES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return importlib.import_module(spec.name.partition(".")[2])

    def exec_module(self, module: types.ModuleType) -> None:
        return None  # the module was run when it was first imported under its own name


if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Alias())
