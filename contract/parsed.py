"""openapi.yaml parsed at wheel build, so that an installed server need not parse YAML.

An installed wheel carries, beside its openapi.yaml, the document already parsed:
`openapi.yaml.parsed.json`, `{"sha256": <digest of the YAML text>, "document": ...}`,
written by build_support/hatch_hook.py with `write()`. JSON loads in about a millisecond
what libyaml's parser takes ~60 ms for (a twentieth of the server's start-up); the
reader uses it only for the very text it was made from, and parses the YAML otherwise.

This module imports nothing of the project: the build hook loads it by its path.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SUFFIX = ".parsed.json"
Json = dict[str, Any]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_yaml(text: str) -> Json:
    """The document, as YAML's safe loader reads it."""
    import yaml  # only where no parsed form fits

    # libyaml's parser when present: the same document ten times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loaded: Json = yaml.load(text, Loader=loader)
    return loaded


def path_for(spec: Path) -> Path:
    return spec.with_name(spec.name + SUFFIX)


def write(spec: Path) -> Path:
    """Parse the YAML at `spec` and write its parsed form beside it. Fails on a value
    JSON cannot hold as YAML gave it (a date, an infinity): no form that could differ."""
    text = spec.read_text(encoding="utf-8")
    document = parse_yaml(text)
    record = json.dumps(
        {"sha256": digest(text), "document": document},
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    )
    if json.loads(record)["document"] != document:
        raise ValueError(f"{spec.name} does not survive JSON as it is")
    target = path_for(spec)
    target.write_text(record, encoding="utf-8")
    return target


def read(spec: Path, text: str) -> Json | None:
    """The parsed form beside `spec` if it was made from `text`, else None."""
    try:
        record = json.loads(path_for(spec).read_bytes())
    except FileNotFoundError:
        return None
    if record.get("sha256") != digest(text):
        return None  # the YAML was edited after the wheel was built
    document: Json = record["document"]
    return document
