"""connexion's start-up check of openapi.yaml, done once per text of the document.

connexion validates the whole document against the OpenAPI 3.0 schema in add_api: about
0.3 s of CPU, a fifth of the server's start-up. The shipped openapi.yaml passes the same
check in the test suite, and its SHA-256 is recorded in handlers/openapi.sha256 by
`python -m handlers.spec_check --write` (`make spec-digest`), which runs connexion's check
first. A server started on that very text skips the repeat; any other text (an edited
spec) is checked at start as before. tests/test_spec.py fails when the record is stale.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import contract
import library_patches

DIGEST_FILE = Path(__file__).resolve().parent / "openapi.sha256"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recorded() -> str | None:
    """The digest of the text the test suite checked, if recorded."""
    try:
        return DIGEST_FILE.read_text(encoding="ascii").split()[0]
    except (OSError, IndexError):
        return None


def connexion_check(spec: dict[str, Any]) -> None:
    """connexion's own validation of a spec document; raises InvalidSpecification."""
    from connexion.spec import OpenAPISpecification

    OpenAPISpecification._validate_spec(spec)


@contextlib.contextmanager
def checked_already(text: str) -> Iterator[bool]:
    """Within the block, connexion does not re-validate a spec if `text` is the recorded
    one; yields whether it skips."""
    if digest(text) != recorded():
        yield False
        return
    with library_patches.skip_connexion_spec_validation():
        yield True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handlers.spec_check",
        description="Validate openapi.yaml with connexion's own check; --write records "
        "its digest so that servers started on it skip the check.",
    )
    parser.add_argument("--write", action="store_true", help="record the digest when valid")
    args = parser.parse_args(argv)
    connexion_check(copy.deepcopy(contract.document()))
    text = contract.spec_text()
    sys.stdout.write(f"openapi.yaml passes connexion's check (sha256 {digest(text)})\n")
    if args.write:
        DIGEST_FILE.write_text(digest(text) + "  openapi.yaml\n", encoding="ascii")
        sys.stdout.write(f"recorded in handlers/{DIGEST_FILE.name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
