"""Supporting operations tagged `service_accounts`: accounts and their `glsa_` tokens."""

from __future__ import annotations

import secrets
import string
import zlib
from typing import Any

from handlers import deps, views
from handlers.errors import BadRequest, NotFound
from handlers.passwords import keyed_hash
from handlers.store import NameTaken, ServiceAccountNotFound
from handlers.store.db import INT64_MAX

JSON = dict[str, Any]
_ALNUM = string.ascii_letters + string.digits


def _new_token() -> str:
    """`glsa_` + 32 random characters + `_` + a CRC32 checksum, Grafana's token shape."""
    secret = "".join(secrets.choice(_ALNUM) for _ in range(32))
    return f"glsa_{secret}_{zlib.crc32(secret.encode()):08x}"


def create_service_account(body: JSON) -> tuple[JSON, int]:
    who = deps.caller()
    try:
        account = deps.store().create_service_account(
            who.org_id,
            name=str(body["name"]),
            role=str(body.get("role") or "Viewer"),
            is_disabled=bool(body.get("isDisabled")),
        )
    except NameTaken:
        raise BadRequest(
            "service account already exists", message_id="serviceaccounts.ErrAlreadyExists"
        ) from None
    return views.service_account(account), 201


def create_token(service_account_id: int, body: JSON) -> JSON:
    who = deps.caller()
    seconds = int(body.get("secondsToLive") or 0)
    expires = deps.clock().seconds() + seconds if seconds > 0 else None
    if expires is not None and expires > INT64_MAX:  # the expiry column is a signed int64
        raise BadRequest("Number of seconds before expiration is greater than the global limit")
    key = _new_token()
    try:
        token_id = deps.store().add_token(
            who.org_id,
            service_account_id,
            name=str(body["name"]),
            key_hash=keyed_hash(key, deps.settings().secret_key),
            expires=expires,
        )
    except ServiceAccountNotFound:
        raise NotFound("service account not found") from None
    except NameTaken:
        raise BadRequest(
            "service account token with given name already exists",
            message_id="serviceaccounts.ErrTokenAlreadyExists",
        ) from None
    return {"id": token_id, "name": str(body["name"]), "key": key}


def list_tokens(service_account_id: int) -> list[JSON]:
    who = deps.caller()
    now = deps.clock().seconds()
    tokens = deps.store().tokens(who.org_id, service_account_id)
    return [views.sa_token(token, now=now) for token in tokens]
