"""bench/scale.py's --reuse: a seeded database kept in a folder and reused by a later run
with the same shape; tests/support/postgres.py's kept cluster."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bench import scale
from tests.support.postgres import find_bin_dir, running_postgres


def test_a_seed_is_recorded_then_reused_for_the_same_shape_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []

    def seed(cfg: scale.Config, backend: str, url: str) -> dict[str, Any]:
        runs.append(url)
        return {"wall_seconds": 12.5, "summary": "seeded"}

    monkeypatch.setattr(scale, "seed", seed)
    marker = tmp_path / "sqlite.seeded.json"
    cfg = scale.Config(users=1000)
    first = scale.seeded(cfg, "sqlite", "sqlite:///x", marker)
    assert first == {"wall_seconds": 12.5, "summary": "seeded"} and runs == ["sqlite:///x"]
    again = scale.seeded(cfg, "sqlite", "sqlite:///x", marker)
    assert again == {**first, "reused": True} and len(runs) == 1  # not seeded again
    with pytest.raises(scale.ReuseMismatch, match="'users': 1000"):
        scale.seeded(scale.Config(users=2000), "sqlite", "sqlite:///x", marker)
    assert len(runs) == 1 and marker.exists()
    assert scale.seeded(cfg, "sqlite", "sqlite:///x", None) == first and len(runs) == 2


def test_a_failed_seed_leaves_no_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def seed(cfg: scale.Config, backend: str, url: str) -> dict[str, Any]:
        raise RuntimeError("seeding failed (1)")

    monkeypatch.setattr(scale, "seed", seed)
    marker = tmp_path / "postgresql.seeded.json"
    with pytest.raises(RuntimeError):
        scale.seeded(scale.Config(users=10), "postgresql", "postgresql://", marker)
    assert not marker.exists()


@pytest.mark.postgres
def test_a_kept_cluster_starts_again_with_its_data() -> None:
    if find_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    # Not under pytest's tmp_path: run as root, the cluster runs as user postgres, who must
    # be able to enter the folder's parents.
    root = Path(tempfile.mkdtemp(prefix="userapi-kept-"))
    root.chmod(0o755)
    try:
        _start_twice(root / "postgresql")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start_twice(folder: Path) -> None:
    with running_postgres(keep=folder) as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (n int)"))
            conn.execute(text("INSERT INTO kept VALUES (41)"))
        engine.dispose()
    assert (folder / "data" / "PG_VERSION").exists()
    with running_postgres(keep=folder) as url:
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n + 1 FROM kept")).scalar_one() == 42
        engine.dispose()
