"""Version fingerprints: for each version difference of the contract, one request that
shows whether the target has it.

The contract says which releases have each difference and what they answer (its `answer`,
and `otherwise` for the other releases), or which fields they lack. A probe here only knows
how to put the target in the difference's situation; whether what came back is the
difference's answer is judged from the contract. A probe's verdict is `True` (the target
behaves as the releases with the difference), `False` (as the others) or `None` (as
neither: a deviation whichever release is expected).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.fresh import Fresh
from conformance.guard import GHOST_ID
from conformance.target import Target
from conformance.world import World
from contract import Answer, Contract, Difference


@dataclass(frozen=True)
class Seen:
    """What a probe saw: the verdict and the answer that led to it."""

    holds: bool | None
    detail: str


@dataclass(frozen=True)
class Situation:
    """What a probe needs: the target, the run's fixtures, and the contract."""

    target: Target
    world: World
    fresh: Fresh
    contract: Contract
    created: dict[int, Any]  # user id -> the body POST /api/admin/users answered


Probe = Callable[[Situation, Difference], Seen]


def _message(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("message") if isinstance(body, dict) else None


def _is(answer: Answer | None, response: httpx.Response) -> bool:
    if answer is None or response.status_code != answer.status:
        return False
    return answer.message is None or _message(response) == answer.message


def judged(difference: Difference, response: httpx.Response) -> Seen:
    """The verdict on an answer, from the difference's `answer` and `otherwise`."""
    detail = f"{response.status_code} {response.text[:120]!r}"
    with_it, without = _is(difference.answer, response), _is(difference.otherwise, response)
    return Seen(holds=with_it if with_it != without else None, detail=detail)


def lacking(difference: Difference, schema: str, items: list[Any]) -> Seen:
    """The verdict on bodies of `schema`: the releases with the difference lack its
    fields there, the others carry them all."""
    fields = set(difference.relaxes.required.get(schema, ()))
    objects = [item for item in items if isinstance(item, dict)]
    if not objects:
        return Seen(None, f"no {schema} to look at")
    present = {field for item in objects for field in fields if field in item}
    detail = f"{schema} fields {sorted(fields)}: {sorted(present) or 'none'} present"
    if not present:
        return Seen(True, detail)
    return Seen(False if present == fields else None, detail)


def _as_root(s: Situation) -> httpx.Client:
    return s.fresh.as_root


def user_uid_in_paths(s: Situation, d: Difference) -> Seen:
    return judged(d, _as_root(s).get(f"/api/users/{s.world.prefix}no-such-uid"))


def old_password_401(s: Situation, d: Difference) -> Seen:
    with s.target.session(s.world.plain.basic) as client:
        response = client.put(
            "/api/user/password",
            json={"oldPassword": f"{s.world.prefix}wrong", "newPassword": "never-set-1"},
        )
    return judged(d, response)


def _as_token(s: Situation, method: str, path: str) -> httpx.Response:
    with s.target.session(s.world.token_credentials) as client:
        return client.request(method, path)


def non_user_profile_403(s: Situation, d: Difference) -> Seen:
    return judged(d, _as_token(s, "GET", "/api/user"))


def non_user_endpoint_403(s: Situation, d: Difference) -> Seen:
    return judged(d, _as_token(s, "GET", "/api/user/orgs"))


def star_by_id_removed(s: Situation, d: Difference) -> Seen:
    # Releases serving the route do not check that the dashboard exists: a ghost id
    # stars nothing real (and the star is taken back at once).
    with s.target.session(s.world.plain.basic) as client:
        response = client.post(f"/api/user/stars/dashboard/{GHOST_ID}")
        if response.status_code == 200:
            client.delete(f"/api/user/stars/dashboard/{GHOST_ID}")
    return judged(d, response)


def team_without_provisioning_fields(s: Situation, d: Difference) -> Seen:
    member = next(iter(sorted(user for users in s.world.team_members.values() for user in users)))
    teams = _as_root(s).get(f"/api/users/{member}/teams").json()
    return lacking(d, "Team", teams if isinstance(teams, list) else [])


def create_response_without_uid(s: Situation, d: Difference) -> Seen:
    return lacking(d, "AdminCreateUserResponse", [s.created.get(s.world.plain.id)])


def update_conflict_500(s: Situation, d: Difference) -> Seen:
    victim = s.fresh.user("clash")
    taken = s.world.plain.login
    response = _as_root(s).put(f"/api/users/{victim.id}", json={"login": taken})
    return judged(d, response)


def permissions_rbac_denial(s: Situation, d: Difference) -> Seen:
    victim = s.fresh.user("rights")
    with s.target.session(s.world.plain.basic) as client:
        response = client.put(
            f"/api/admin/users/{victim.id}/permissions", json={"isGrafanaAdmin": False}
        )
    return judged(d, response)


def permissions_unknown_user_200(s: Situation, d: Difference) -> Seen:
    path = f"/api/admin/users/{GHOST_ID}/permissions"
    return judged(d, _as_root(s).put(path, json={"isGrafanaAdmin": False}))


def password_unknown_user_message(s: Situation, d: Difference) -> Seen:
    path = f"/api/admin/users/{GHOST_ID}/password"
    return judged(d, _as_root(s).put(path, json={"password": "never-set-1"}))


def lookup_empty_uid(s: Situation, d: Difference) -> Seen:
    person = s.world.plain
    found = _as_root(s).get("/api/users/lookup", params={"loginOrEmail": person.login}).json()
    full = _as_root(s).get(f"/api/users/{person.id}").json()
    uid = found.get("uid") if isinstance(found, dict) else None
    detail = f"lookup uid {uid!r}, the user's {full.get('uid')!r}"
    if uid == "":
        return Seen(True, detail)
    return Seen(False if uid and uid == full.get("uid") else None, detail)


def short_password_500(s: Situation, d: Difference) -> Seen:
    # The right old password and a new one below the policy: nothing changes either way.
    with s.target.session(s.world.plain.basic) as client:
        response = client.put(
            "/api/user/password",
            json={"oldPassword": s.world.plain.password, "newPassword": "abc"},
        )
    return judged(d, response)


def delete_negative_org_500(s: Situation, d: Difference) -> Seen:
    return judged(d, _as_root(s).delete("/api/orgs/-9999"))


def delete_active_org_message(s: Situation, d: Difference) -> Seen:
    # The root account's current organization is the run's own: Grafana refuses to delete it.
    return judged(d, _as_root(s).delete(f"/api/orgs/{s.world.org}"))


def team_delete_not_found_message(s: Situation, d: Difference) -> Seen:
    return judged(d, _as_root(s).delete(f"/api/teams/{GHOST_ID}"))


def org_user_uid_in_paths(s: Situation, d: Difference) -> Seen:
    path = f"/api/orgs/{s.world.org}/users/{s.world.prefix}no-such-uid"
    return judged(d, _as_root(s).patch(path, json={"role": "Viewer"}))


PROBES: dict[str, Probe] = {
    "user-uid-in-paths": user_uid_in_paths,
    "old-password-401": old_password_401,
    "non-user-profile-403": non_user_profile_403,
    "non-user-endpoint-403": non_user_endpoint_403,
    "star-by-id-removed": star_by_id_removed,
    "team-without-provisioning-fields": team_without_provisioning_fields,
    "create-response-without-uid": create_response_without_uid,
    "update-conflict-500": update_conflict_500,
    "permissions-rbac-denial": permissions_rbac_denial,
    "permissions-unknown-user-200": permissions_unknown_user_200,
    "password-unknown-user-message": password_unknown_user_message,
    "lookup-empty-uid": lookup_empty_uid,
    "short-password-500": short_password_500,
    "delete-negative-org-500": delete_negative_org_500,
    "delete-active-org-message": delete_active_org_message,
    "team-delete-not-found-message": team_delete_not_found_message,
    "org-user-uid-in-paths": org_user_uid_in_paths,
}


def releases_matching(contract: Contract, seen: dict[str, bool | None]) -> list[str]:
    """The listed releases whose differences agree with every verdict."""
    return [
        version
        for version in contract.versions.names
        if all(
            holds is not None and contract.differences[name].holds_in(version) == holds
            for name, holds in seen.items()
        )
    ]
