"""Declarative seed data for the fake Grafana: checked whole, then written through the Store.

    orgs:             [{name}]
    users:            [{login, password, email, name, grafana_admin, disabled,
                        orgs: {org name: role}}]      # the first org is the active one
    teams:            [{name, org, email, members: [login]}]
    dashboards:       [{uid, title, org}]
    stars:            [{user, dashboard: uid, org}]
    service_accounts: [{name, org, role, disabled, tokens: [{name, key, seconds_to_live}]}]
    sessions:         [{user, token, user_agent, client_ip}]

`org` defaults to "Main Org."; a user without `orgs` is a Viewer of it, as Grafana makes
new users. Names refer to what the data creates or to what the server already holds. Every
problem is reported at once, each naming its entry, before anything is written.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any

import yaml
from sqlalchemy import select

from handlers.passwords import encode_password, keyed_hash, random_string
from handlers.store import Store, schema

MAIN_ORG = "Main Org."
ROLES = ("Viewer", "Editor", "Admin", "None")
KINDS = ("orgs", "users", "teams", "dashboards", "stars", "service_accounts", "sessions")
# Each kind's fields: name -> (type, required); the first field names an entry in errors.
FIELDS: dict[str, dict[str, tuple[type, bool]]] = {
    "orgs": {"name": (str, True)},
    "users": {
        "login": (str, True),
        "password": (str, False),
        "email": (str, False),
        "name": (str, False),
        "grafana_admin": (bool, False),
        "disabled": (bool, False),
        "orgs": (dict, False),
    },
    "teams": {
        "name": (str, True),
        "org": (str, False),
        "email": (str, False),
        "members": (list, False),
    },
    "dashboards": {"uid": (str, True), "title": (str, True), "org": (str, False)},
    "stars": {"user": (str, True), "dashboard": (str, True), "org": (str, False)},
    "service_accounts": {
        "name": (str, True),
        "org": (str, False),
        "role": (str, False),
        "disabled": (bool, False),
        "tokens": (list, False),
    },
    "sessions": {
        "user": (str, True),
        "token": (str, False),
        "user_agent": (str, False),
        "client_ip": (str, False),
    },
}
TOKEN_FIELDS: dict[str, tuple[type, bool]] = {
    "name": (str, True),
    "key": (str, True),
    "seconds_to_live": (int, False),
}


class SeedError(ValueError):
    """Seed data that cannot be applied; the message lists every problem and its entry."""

    def __init__(self, problems: list[str], source: str = "seed data") -> None:
        self.problems = problems
        super().__init__(f"{source} is not valid:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass
class Seeded:
    """What a seed created: ids by name, and the secrets tests sign in with."""

    orgs: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    dashboards: dict[str, int] = field(default_factory=dict)
    service_accounts: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token name -> key
    sessions: list[dict[str, Any]] = field(default_factory=list)  # user, id, token (cookie)

    def as_dict(self) -> dict[str, Any]:
        return {kind: getattr(self, kind) for kind in self.__dataclass_fields__}


class PasswordHashes:
    """PBKDF2 costs ~10 ms a password: identical passwords share one salt and hash, computed
    once per fake server (a fake's users are test fixtures, not accounts to protect)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, str]] = {}
        self._lock = Lock()

    def __call__(self, password: str) -> tuple[str, str]:
        with self._lock:
            found = self._known.get(password)
        if found is None:
            salt = random_string(10)
            found = (salt, encode_password(password, salt))
            with self._lock:
                found = self._known.setdefault(password, found)
        return found


def load(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Seed data from a mapping or a YAML/JSON file (SeedError naming the file when it is
    not readable or not a mapping)."""
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SeedError([f"cannot read it: {exc}"], source=str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SeedError(["the top level must be a mapping of kinds"], source=str(path))
    return data


def seed(
    store: Store,
    data: Mapping[str, Any],
    *,
    hashes: Callable[[str], tuple[str, str]] | None = None,
    secret_key: str,
    source: str = "seed data",
) -> Seeded:
    """Check `data` against the store's contents, then create it all; returns the ids."""
    entries = _check(store, data, source)
    return _Writer(store, hashes or PasswordHashes(), secret_key).write(entries)


# -- checking ---------------------------------------------------------------------------


def _label(kind: str, index: int, entry: Any) -> str:
    key = next(iter(FIELDS[kind]))
    if isinstance(entry, dict) and isinstance(entry.get(key), str):
        return f"{kind}[{index}] ({key} {entry[key]!r})"
    return f"{kind}[{index}]"


def _fields(label: str, entry: Any, spec: dict[str, tuple[type, bool]]) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{label}: must be a mapping, not {type(entry).__name__}"]
    problems = []
    for name in entry:
        if name not in spec:
            problems.append(f"{label}: unknown field {name!r} (expected: {', '.join(spec)})")
    for name, (kind, required) in spec.items():
        if name not in entry:
            if required:
                problems.append(f"{label}: {name!r} is required")
            continue
        value = entry[name]
        wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if wrong or (kind is str and required and not value):
            problems.append(
                f"{label}: {name!r} must be a non-empty {kind.__name__}, not {value!r}"
                if not wrong
                else f"{label}: {name!r} must be a {kind.__name__}, not {value!r}"
            )
    return problems


def _emails(store: Store) -> set[str]:
    with store.db.read() as conn:
        return set(conn.execute(select(schema.users.c.email)).scalars())


def _existing(store: Store) -> tuple[dict[str, int], dict[str, int], set[tuple[int, str]]]:
    """Org ids by name, user ids by login and (org id, dashboard uid) already stored."""
    with store.db.read() as conn:
        orgs = {r.name: r.id for r in conn.execute(select(schema.orgs.c.id, schema.orgs.c.name))}
        users = {
            r.login: r.id for r in conn.execute(select(schema.users.c.id, schema.users.c.login))
        }
        dashboards = {
            (r.org_id, r.uid)
            for r in conn.execute(select(schema.dashboards.c.org_id, schema.dashboards.c.uid))
        }
    return orgs, users, dashboards


def _check(store: Store, data: Mapping[str, Any], source: str) -> dict[str, list[dict[str, Any]]]:
    problems: list[str] = []
    for kind in data:
        if kind not in KINDS:
            problems.append(f"unknown kind {kind!r} (expected: {', '.join(KINDS)})")
    entries: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        listed = data.get(kind) or []
        if not isinstance(listed, list):
            problems.append(f"{kind}: must be a list, not {type(listed).__name__}")
            listed = []
        entries[kind] = listed
        for index, entry in enumerate(listed):
            problems += _fields(_label(kind, index, entry), entry, FIELDS[kind])
    if problems:
        raise SeedError(problems, source)
    problems += _references(store, entries)
    if problems:
        raise SeedError(problems, source)
    return entries


def _references(store: Store, entries: dict[str, list[dict[str, Any]]]) -> list[str]:
    orgs, users, dashboards = _existing(store)
    org_names, logins = set(orgs), set(users)
    problems: list[str] = []

    def new_name(kind: str, index: int, entry: dict[str, Any], key: str, taken: set[str]) -> None:
        name = entry[key].lower() if kind == "users" else entry[key]
        if name in taken:
            problems.append(f"{_label(kind, index, entry)}: {key} {entry[key]!r} already exists")
        taken.add(name)

    def org_of(label: str, name: str) -> None:
        if name not in org_names:
            problems.append(f"{label}: org {name!r} is neither in the data nor on the server")

    def user_of(label: str, login: str, what: str = "user") -> None:
        if login.lower() not in logins:
            problems.append(f"{label}: {what} {login!r} is neither in the data nor on the server")

    def role_of(label: str, role: Any) -> None:
        if role not in ROLES:
            problems.append(f"{label}: role {role!r} is not one of {', '.join(ROLES)}")

    for i, org in enumerate(entries["orgs"]):
        new_name("orgs", i, org, "name", org_names)
    emails = _emails(store)
    for i, user in enumerate(entries["users"]):
        new_name("users", i, user, "login", logins)
        email = (user.get("email") or user["login"]).lower()  # Grafana: no e-mail, the login
        if email in emails:
            problems.append(f"{_label('users', i, user)}: e-mail {email!r} is taken")
        emails.add(email)
    for i, user in enumerate(entries["users"]):
        label = _label("users", i, user)
        for org, role in (user.get("orgs") or {}).items():
            org_of(label, str(org))
            role_of(label, role)
    team_names: set[str] = set()
    for i, team in enumerate(entries["teams"]):
        label = _label("teams", i, team)
        new_name("teams", i, team, "name", team_names)
        org_of(label, team.get("org", MAIN_ORG))
        for member in team.get("members") or []:
            if not isinstance(member, str):
                problems.append(f"{label}: member {member!r} must be a login")
            else:
                user_of(label, member, "member")
    uids = {uid for _, uid in dashboards}
    for i, board in enumerate(entries["dashboards"]):
        label = _label("dashboards", i, board)
        org_of(label, board.get("org", MAIN_ORG))
        new_name("dashboards", i, board, "uid", uids)
    for i, star in enumerate(entries["stars"]):
        label = _label("stars", i, star)
        user_of(label, star["user"])
        org_of(label, star.get("org", MAIN_ORG))
        if star["dashboard"] not in uids:
            problems.append(f"{label}: dashboard {star['dashboard']!r} is not a dashboard uid")
    accounts: set[str] = set()
    token_names: set[str] = set()
    for i, account in enumerate(entries["service_accounts"]):
        label = _label("service_accounts", i, account)
        new_name("service_accounts", i, account, "name", accounts)
        org_of(label, account.get("org", MAIN_ORG))
        role_of(label, account.get("role", "Viewer"))
        for j, token in enumerate(account.get("tokens") or []):
            problems += _fields(f"{label} tokens[{j}]", token, TOKEN_FIELDS)
            if isinstance(token, dict) and isinstance(token.get("name"), str):
                if token["name"] in token_names:
                    problems.append(f"{label} tokens[{j}]: name {token['name']!r} is repeated")
                token_names.add(token["name"])
    for i, session in enumerate(entries["sessions"]):
        user_of(_label("sessions", i, session), session["user"])
    return problems


# -- writing ----------------------------------------------------------------------------


class _Writer:
    def __init__(
        self, store: Store, hashes: Callable[[str], tuple[str, str]], secret_key: str
    ) -> None:
        self.store, self.hashes, self.secret_key = store, hashes, secret_key
        self.done = Seeded()
        orgs, users, _ = _existing(store)
        self.orgs, self.users = orgs, users

    def write(self, entries: dict[str, list[dict[str, Any]]]) -> Seeded:
        store, done = self.store, self.done
        admin = min(self.users.values())  # the first Grafana Admin creates orgs, as via the API
        for org in entries["orgs"]:
            done.orgs[org["name"]] = self.orgs[org["name"]] = store.create_org(
                org["name"], creator_id=admin
            )
        self._users(entries["users"])
        for team in entries["teams"]:
            org_id = self.orgs[team.get("org", MAIN_ORG)]
            team_id, _ = store.create_team(
                org_id, team["name"], team.get("email", ""), creator_id=None
            )
            done.teams[team["name"]] = team_id
            for member in team.get("members") or []:
                store.add_team_member(org_id, team_id, self.users[member.lower()])
        boards: dict[str, tuple[int, int]] = {}
        for board in entries["dashboards"]:
            org_id = self.orgs[board.get("org", MAIN_ORG)]
            saved = store.save_dashboard(
                org_id,
                title=board["title"],
                uid=board["uid"],
                folder_uid="",
                overwrite=False,
                data={"uid": board["uid"], "title": board["title"]},
            )
            done.dashboards[board["uid"]] = saved.id
            boards[board["uid"]] = (saved.id, org_id)
        for star in entries["stars"]:
            org_id = self.orgs[star.get("org", MAIN_ORG)]
            dashboard_id = boards[star["dashboard"]][0] if star["dashboard"] in boards else None
            if dashboard_id is None:
                dashboard_id = store.get_dashboard(org_id, star["dashboard"]).id
            store.star(self.users[star["user"].lower()], dashboard_id, org_id)
        for account in entries["service_accounts"]:
            self._service_account(account)
        for session in entries["sessions"]:
            token = session.get("token") or secrets.token_hex(16)
            user_id = self.users[session["user"].lower()]
            made = store.create_session(
                user_id,
                keyed_hash(token, self.secret_key),
                user_agent=session.get("user_agent", "grafana-userapi seed"),
                client_ip=session.get("client_ip", "127.0.0.1"),
                now=store.db.clock.seconds(),
            )
            done.sessions.append({"user": session["user"], "id": made.id, "token": token})
        return done

    def _users(self, users: list[dict[str, Any]]) -> None:
        store, made = self.store, []
        for user in users:
            salt, password_hash = self.hashes(user.get("password") or secrets.token_hex(16))
            first_org, first_role = next(iter((user.get("orgs") or {MAIN_ORG: "Viewer"}).items()))
            made.append(
                {
                    "login": user["login"],
                    "email": user.get("email", ""),
                    "name": user.get("name", ""),
                    "password_hash": password_hash,
                    "salt": salt,
                    "org_id": self.orgs[first_org],
                    "role": first_role,
                    "is_admin": bool(user.get("grafana_admin")),
                    "is_disabled": bool(user.get("disabled")),
                }
            )
        for user, user_id in zip(users, store.create_users(made), strict=True):
            for org, role in list((user.get("orgs") or {}).items())[1:]:
                store.add_org_user(self.orgs[org], user_id, role)
            self.done.users[user["login"]] = self.users[user["login"].lower()] = user_id

    def _service_account(self, account: dict[str, Any]) -> None:
        store = self.store
        org_id = self.orgs[account.get("org", MAIN_ORG)]
        made = store.create_service_account(
            org_id,
            name=account["name"],
            role=account.get("role", "Viewer"),
            is_disabled=bool(account.get("disabled")),
        )
        self.done.service_accounts[account["name"]] = made.id
        for token in account.get("tokens") or []:
            seconds = token.get("seconds_to_live") or 0
            store.add_token(
                org_id,
                made.id,
                name=token["name"],
                key_hash=keyed_hash(token["key"], self.secret_key),
                expires=store.db.clock.seconds() + seconds if seconds > 0 else None,
            )
            self.done.tokens[token["name"]] = token["key"]
