"""Clients for the identities the suite's tests act as (never the real admin), and the
run's one wrong-password answer."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from conformance.fresh import Fresh
from conformance.logins import OverBudget
from conformance.recorder import Recorder
from conformance.target import Credentials, Target
from conformance.world import Account, World


@pytest.fixture(scope="session")
def as_root(target: Target, world: World) -> httpx.Client:
    """The run's throwaway Grafana Admin; its current org is the run's org."""
    return target.client(world.root.basic)


@pytest.fixture(scope="session")
def as_plain(target: Target, world: World) -> httpx.Client:
    """An ordinary user: Viewer in the main org (its current org), Editor in the run's org."""
    return target.client(world.plain.basic)


@pytest.fixture(scope="session")
def anonymous(target: Target) -> httpx.Client:
    return target.client()


@dataclass(frozen=True)
class PasswordChange:
    """A user changed their own password; what each password got afterwards.

    The old password is then a wrong one: the run's one deliberate wrong password for
    GET /api/user, whose answer every test that needs a wrong-password answer reuses.
    """

    account: Account  # as before the change
    new_password: str
    change: httpx.Response  # PUT /api/user/password
    with_new: httpx.Response  # GET /api/user with the new password
    with_old: httpx.Response | None  # ... with the old one; None: not sent (limit reached)
    not_sent: str  # why with_old is None


@pytest.fixture(scope="session")
def password_change(target: Target, fresh: Fresh, recorder: Recorder) -> PasswordChange:
    user = fresh.user("password")
    new = f"new-{user.password}"
    with target.session(user.basic) as me:
        change = me.put(
            "/api/user/password",
            json={"oldPassword": user.password, "newPassword": new, "confirmNew": "ignored"},
        )
    if change.status_code == 200:
        recorder.failed_logins.learn(new, user.login, user.email)
    with target.session(Credentials(basic=(user.login, new))) as me:
        with_new = me.get("/api/user")
    try:
        recorder.failed_logins.allow(user.login, "the old password after a change")
    except OverBudget as exc:
        return PasswordChange(user, new, change, with_new, None, str(exc))
    with target.session(user.basic) as me:
        with_old = me.get("/api/user")
    return PasswordChange(user, new, change, with_new, with_old, "")
