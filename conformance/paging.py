"""Page sizes: the suite never asks a server for more than MAX_PAGE_SIZE rows at once.

A Grafana with many users answers `perpage=10000000` with every one of them. Requests the
suite builds itself stay at or below MAX_PAGE_SIZE (the Target refuses to send one that
does not), and the guard brings generated values down to it. "Asks for more" is read
generously, as any lenient parser might read the value: `5000`, `+5000`, `5_000`, `5e3`,
`0x2000`, ` 5000 ` and `5000abc` all ask for more than 1000 (`-5000` does not).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable

MAX_PAGE_SIZE = 1000  # Grafana's own default page size for the user search
PAGE_SIZE_PARAMETERS = ("perpage", "limit")
_DIGITS = re.compile(r"(?<![-\d])\d+")  # runs of digits, but not a negative number's


def _more_than_a_page(number: float) -> bool:
    return (isinstance(number, float) and math.isnan(number)) or number > MAX_PAGE_SIZE


def _read(text: str) -> Iterable[float]:
    """Every number a lenient parser might read in the text."""
    stripped = text.strip()
    with contextlib.suppress(ValueError):
        yield int(stripped, 0)  # signs, underscores, 0x...
    with contextlib.suppress(ValueError):
        yield float(stripped)  # 5e3, inf, nan
    for run in _DIGITS.findall(text):  # Unicode digits too: int() reads them
        yield int(run) if len(run) <= 30 else math.inf


def asks_too_many(value: object) -> bool:
    """Whether a page-size value could be read as more than MAX_PAGE_SIZE rows."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return _more_than_a_page(value)
    if isinstance(value, (list, tuple)):
        return any(asks_too_many(item) for item in value)
    if not isinstance(value, str):
        return False
    return any(_more_than_a_page(number) for number in _read(value))


def bounded(value: object) -> object:
    """The value, or MAX_PAGE_SIZE (as text) when it could ask for more rows than that."""
    if isinstance(value, list):
        return [bounded(item) for item in value]
    return str(MAX_PAGE_SIZE) if asks_too_many(value) else value
