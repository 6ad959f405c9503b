"""Access rules from the contract, enforced where an operation is bound to its handler.

Every operation states in `x-grafana-access` who may call it (see contract.Access); the
binding wraps each handler in the check its rule asks for, so handler bodies hold no
access checks. The check runs after request validation, as the handler bodies' own checks
did before.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import inflection

from contract import ANONYMOUS, ORG_ROLE, SIGNED_IN, Access, Operation
from contract.model import Refusal
from handlers import deps
from handlers.errors import AccessDenied, ApiError, Forbidden, NotModified
from handlers.store.models import Identity
from handlers.versions import is_int64

NO_ORG = -1  # the org id of a request that runs in none (handlers/auth.py)


def error_for(refusal: Refusal) -> ApiError:
    """The error that answers a refused caller as Grafana does."""
    if refusal.status == NotModified.status_code:
        return NotModified()
    if refusal.rbac:
        return AccessDenied(refusal.message or "")
    return Forbidden(refusal.message)


def enforce(access: Access, who: Identity, org_id: object = None) -> None:
    """Raise the rule's refusal unless `who` may call the operation (`org_id`: the value of
    the rule's org parameter, when it names one)."""
    role: str | None = who.org_role
    if isinstance(org_id, str) and is_int64(org_id):  # bound as text (versions.py)
        org_id = int(org_id)
    if access.org_parameter is not None and not who.is_admin:
        role = deps.store().org_role(who.user_id, org_id) if isinstance(org_id, int) else None
    is_admin = who.is_admin
    if access.who == ORG_ROLE and access.org_parameter is None and who.org_id == NO_ORG:
        # Running in no org (a non-member's X-Grafana-Org-Id, or a deleted current org):
        # Grafana grants no permission in org -1 but global ones, so there is no org to
        # act in, even for a Grafana Admin.
        is_admin = False
    refusal = access.refusal(is_user=who.is_user, is_admin=is_admin, org_role=role)
    if refusal is not None:
        raise error_for(refusal)


def guarded(function: Callable[..., Any], operation: Operation) -> Callable[..., Any]:
    """The handler, behind its operation's access rule (unchanged when anyone signed in may
    call it)."""
    access = operation.access
    if access.who in (ANONYMOUS, SIGNED_IN):
        return function
    # connexion passes path parameters by their pythonic names (serviceAccountId ->
    # service_account_id).
    parameter = inflection.underscore(access.org_parameter) if access.org_parameter else None

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def checked_async(*args: Any, **kwargs: Any) -> Any:
            enforce(access, deps.caller(), kwargs.get(parameter) if parameter else None)
            return await function(*args, **kwargs)

        return checked_async

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        enforce(access, deps.caller(), kwargs.get(parameter) if parameter else None)
        return function(*args, **kwargs)

    return checked
