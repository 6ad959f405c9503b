"""Lower-casing as Grafana (Go) does it, on every backend.

Go's strings.ToLower maps each character on its own, by Unicode's simple mapping: `İ`
(U+0130) becomes `i`, and `Σ` is `σ` even at the end of a word. Python's str.lower applies
the full mapping (`İ` -> `i̇`, two characters) and the final-sigma rule (`ς`), so a login
Grafana stores and looks up would be another string here. SQLite's own lower() maps ASCII
only; the store adds this function as go_lower() to every SQLite connection, and a search
with a non-ASCII query compares `go_lower(name)`, folded as the query was. (An ASCII query
keeps SQLite's fast built-in lower(): it misses only names whose non-ASCII letters fold to
ASCII, such as `İ` and the Kelvin sign.)
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=4096)
def _lower_char(char: str) -> str:
    lowered = char.lower()
    # Only U+0130 has a longer full mapping; its simple mapping is its first character.
    return lowered if len(lowered) == 1 else lowered[0]


def go_lower(text: str) -> str:
    """`strings.ToLower(text)` as Go computes it."""
    if text.isascii():
        return text.lower()
    return "".join(_lower_char(char) for char in text)


def sqlite_lower(value: object) -> object:
    """SQLite's lower(), Unicode-aware (NULL and non-text values pass through)."""
    return go_lower(value) if isinstance(value, str) else value
