"""Work-arounds for known incompatibilities in the tool chain; each says when it can go."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis.transport.requests as requests_transport


def tolerate_urllib3_future() -> None:
    """schemathesis 4.32 counts pooled connections through `PoolManager.pools.keys()`.

    `urllib3-future` (pulled in by `niquests`, a dependency of `grafana-client`) replaces
    the `urllib3` package and its pool container has no `keys()`, so every schemathesis
    request fails with AttributeError. The count only decides whether to resend a request
    on a dropped keep-alive connection; without it schemathesis simply does not resend.
    Remove once urllib3-future is installed with URLLIB3_NO_OVERRIDE=1 or not at all.
    """
    count = requests_transport._count_opened_connections
    if getattr(count, "_tolerant", False):
        return

    def tolerant(session: Any) -> int:
        try:
            return int(count(session))
        except AttributeError:
            return 0

    tolerant._tolerant = True  # type: ignore[attr-defined]
    requests_transport._count_opened_connections = tolerant


def fix_item_ids(items: list[pytest.Item], label_to_id: dict[str, str]) -> None:
    """Give schemathesis's per-operation items their own node ids: `test[operationId]`.

    With pytest >= 9.1 every item schemathesis 4.32 generates for one test function shares
    the function's node id (it passes the function name as `originalname`), so reports and
    JUnit XML could not tell operations apart.
    """
    for item in items:
        label = getattr(item, "operation_label", None)
        operation_id = label_to_id.get(label) if isinstance(label, str) else None
        node_id = getattr(item, "_id", None)
        if operation_id is None or node_id is None or node_id.params is not None:
            continue
        item._id = node_id.with_params(operation_id)
        item.extra_keyword_matches.add(operation_id)
