"""The pytest plugin (entry point `grafana_userapi`): a user's project gets `fake_grafana`
by installing the package; state is reset between tests; seed file and release options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_serve_command import clean_environment

USER_TESTS = """
import httpx
import pytest


def test_seeded_from_the_session_file(fake_grafana):
    me = httpx.get(fake_grafana.url + "/api/user", auth=("ann", "pw-ann"))
    assert me.status_code == 200
    httpx.post(fake_grafana.url + "/api/admin/users", auth=fake_grafana.admin,
               json={"login": "leak", "password": "pw-leak"})


def test_changes_of_one_test_are_gone_in_the_next(fake_grafana):
    users = httpx.get(fake_grafana.url + "/api/users", auth=fake_grafana.admin).json()
    assert sorted(u["login"] for u in users) == ["admin", "ann"]
    assert len(fake_grafana.requests) == 1


@pytest.mark.fake_grafana(seed={"users": [{"login": "bo", "password": "pw-bo"}]})
def test_a_marker_seeds_one_test(fake_grafana):
    assert set(fake_grafana.seeded.users) == {"bo"}
    assert httpx.get(fake_grafana.url + "/api/user", auth=("bo", "pw-bo")).status_code == 200


@pytest.mark.fake_grafana(version="11.4")
def test_a_marker_picks_the_release(fake_grafana):
    assert httpx.get(fake_grafana.url + "/api/health").json()["version"].startswith("11.4.")


def test_the_option_picks_the_release_for_the_others(fake_grafana):
    assert fake_grafana.version == "12.0"
"""


def test_installing_the_package_gives_a_project_the_fake_grafana_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_user_project.py").write_text(USER_TESTS)
    (tmp_path / "seed.yaml").write_text("users:\n  - {login: ann, password: pw-ann}\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--fake-grafana-seed", "seed.yaml", "--fake-grafana-version", "12.0"],
        cwd=tmp_path, env=clean_environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_a_project_that_does_not_ask_for_the_fixture_imports_no_server(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\n"
        "def test_nothing_of_the_server_is_loaded():\n"
        "    assert 'testing.fake' not in sys.modules\n"
        "    assert 'connexion' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, env=clean_environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    plugins = subprocess.run(
        [sys.executable, "-m", "pytest", "--version", "--version"],
        cwd=tmp_path, env=clean_environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "grafana-userapi" in plugins.stdout + plugins.stderr
