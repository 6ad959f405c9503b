"""Letter case as Grafana (Go) sees it, for the suite's expectations and its guard.

Go's strings.ToLower and strings.ToUpper map each character on its own by Unicode's simple
mapping, where Python's str.lower and str.upper apply the full one: Python upper-cases
`ß` to `SS` and lower-cases `İ` to two characters, Go leaves `ß` alone and maps `İ` to
`i`. Grafana lower-cases logins and e-mails with strings.ToLower, and encoding/json
matches object keys to struct fields case-insensitively by its own folding, so the suite
computes both as Go does.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=4096)
def _lower(char: str) -> str:
    lowered = char.lower()
    # Only U+0130 has a longer full lower-case mapping: its simple one is the first character.
    return lowered if len(lowered) == 1 else lowered[0]


@functools.lru_cache(maxsize=4096)
def _upper(char: str) -> str:
    upper = char.upper()
    # A longer full mapping (ß -> SS, ŉ -> ʼN) means the simple mapping keeps the character.
    return upper if len(upper) == 1 else char


def go_lower(text: str) -> str:
    """strings.ToLower(text)."""
    return text.lower() if text.isascii() else "".join(map(_lower, text))


def go_upper(text: str) -> str:
    """strings.ToUpper(text)."""
    return text.upper() if text.isascii() else "".join(map(_upper, text))


def go_swapcase(text: str) -> str:
    """Every letter in the other case, character by character as Go maps them."""
    return "".join(_upper(c) if _lower(c) == c else _lower(c) for c in text)


def json_key(name: str) -> str:
    """How encoding/json folds an object key before matching it to a struct field: two
    keys that fold alike reach the same field (`USERID`, `userıd` and `userId` all do)."""
    return "".join(c.upper() if c.isascii() else _upper(_lower(c)) for c in name)


def ascii_lower(text: str) -> str:
    """Only ASCII letters lower-cased: how SQLite's LIKE (Grafana's default database)
    compares letters."""
    return "".join(c.lower() if c.isascii() else c for c in text)
