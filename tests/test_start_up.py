"""What the server's start leaves out, and that leaving it out changes nothing.

* The wheel's openapi.yaml comes parsed (contract/parsed.py): the same document, used only
  for the very text it was made from.
* The first start's admin password hash is computed only when the admin is created.
* The cyclic collector is off while the server starts and on (with start-up's objects
  frozen) once it serves, or if the start fails.
"""

from __future__ import annotations

import gc
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

import contract
from contract import parsed
from handlers import __main__ as server_command
from handlers import passwords
from handlers.store import open_store


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 == 1.0 == True does not do) and the
    same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    target = tmp_path / "openapi.yaml"
    shutil.copyfile(contract.SPEC_PATH, target)
    return target


def test_the_parsed_form_is_the_document_yaml_gives(spec_copy: Path) -> None:
    written = parsed.write(spec_copy)
    assert written.name == "openapi.yaml.parsed.json"
    text = spec_copy.read_text(encoding="utf-8")
    found = parsed.read(spec_copy, text)
    assert found is not None
    assert same(found, parsed.parse_yaml(text))


def test_the_reader_takes_the_parsed_form_instead_of_parsing(
    spec_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed.write(spec_copy)

    def no_yaml(text: str) -> dict[str, Any]:
        raise AssertionError("parsed the YAML although its parsed form was there")

    monkeypatch.setattr(parsed, "parse_yaml", no_yaml)
    assert same(contract.document(spec_copy), contract.document())


def test_a_parsed_form_of_another_text_is_not_used(spec_copy: Path) -> None:
    parsed.write(spec_copy)
    edited = spec_copy.read_text(encoding="utf-8").replace(
        "title:", "title: Edited after the build\n  x-old-title:", 1
    )
    spec_copy.write_text(edited, encoding="utf-8")
    assert parsed.read(spec_copy, edited) is None
    assert contract.document(spec_copy)["info"]["title"] == "Edited after the build"


def test_a_value_json_cannot_hold_fails_the_build(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.yaml"
    spec.write_text("openapi: 3.0.3\ninfo:\n  x-released: 2024-05-01\n", encoding="utf-8")
    with pytest.raises(TypeError):
        parsed.write(spec)


def test_the_admin_password_is_hashed_only_on_the_start_that_creates_the_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'grafana.db'}"
    hashed: list[str] = []
    encode = passwords.encode_password

    def counting(password: str, salt: str) -> str:
        hashed.append(password)
        return encode(password, salt)

    monkeypatch.setattr("handlers.store.encode_password", counting)
    first = open_store(url, admin_password="s3cret")
    admin = first.find_user("admin")
    assert admin.password == encode("s3cret", admin.salt)
    first.close()
    assert hashed == ["s3cret"]
    open_store(url, admin_password="s3cret").close()
    assert hashed == ["s3cret"]


def test_the_collector_is_on_after_a_start_that_fails() -> None:
    assert gc.isenabled()
    with pytest.raises(SystemExit):
        server_command.main(["--grafana-version", "9.9", "--port", "1"])
    assert gc.isenabled()


def test_the_collector_is_on_when_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: seen.append(gc.isenabled()))
    on_sigterm = signal.getsignal(signal.SIGTERM)  # the command sets its own
    try:
        server_command.main(["--database-url", "sqlite://", "--port", "1"])
    finally:
        signal.signal(signal.SIGTERM, on_sigterm)
        gc.unfreeze()
    assert seen == [True]
    assert gc.isenabled()
