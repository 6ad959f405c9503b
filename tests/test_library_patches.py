"""The patches of library internals fail loudly, never silently, when the library moves."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import library_patches
from library_patches import INSTANCE_ATTRIBUTES, INTERNALS, VERIFIED, PatchedInternalChanged

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@pytest.mark.parametrize(("module", "attribute"), INTERNALS)
def test_every_patched_internal_is_where_the_patches_expect_it(module: str, attribute: str) -> None:
    library_patches.internal(module, attribute)


@pytest.mark.parametrize(("module", "cls", "attribute"), INSTANCE_ATTRIBUTES)
def test_every_instance_attribute_relied_on_is_still_set_by_its_class(
    module: str, cls: str, attribute: str
) -> None:
    source = inspect.getsource(getattr(importlib.import_module(module), cls).__init__)
    assert re.search(rf"\bself\.{attribute}\s*=", source), f"{cls} no longer sets {attribute}"


def test_the_installed_libraries_are_the_verified_versions() -> None:
    assert library_patches.installed_versions() == VERIFIED


@pytest.mark.parametrize("name", sorted(VERIFIED))
def test_pyproject_pins_each_patched_library_to_its_verified_version(name: str) -> None:
    text = PYPROJECT.read_text(encoding="utf-8")
    assert re.search(rf'"{name}(\[[^\]]*\])?=={re.escape(VERIFIED[name])}"', text), name


def test_a_missing_internal_is_an_error_that_names_it() -> None:
    with pytest.raises(PatchedInternalChanged, match=r"connexion\.spec\.Specification\.gone"):
        library_patches.internal("connexion.spec", "Specification.gone")


def test_a_patch_whose_internal_is_gone_raises_instead_of_doing_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = importlib.import_module("connexion.decorators.parameter")
    monkeypatch.delattr(module, "inspect_function_arguments")
    with pytest.raises(PatchedInternalChanged):
        library_patches.cache_connexion_argument_inspection()


def test_the_argument_cache_answers_as_connexion_does() -> None:
    library_patches.cache_connexion_argument_inspection()
    library_patches.cache_connexion_argument_inspection()  # idempotent
    cached = library_patches.internal("connexion.security", "inspect_function_arguments")
    original = cached.__wrapped__
    assert not hasattr(original, "__wrapped__"), "patched twice"

    def handler(user_id: int, body: dict[str, object], **kwargs: object) -> None: ...

    first = cached(handler)
    assert first == original(handler)
    first[0].append("changed")
    assert cached(handler) == original(handler), "callers must get their own list"
