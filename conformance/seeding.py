"""Create the run's fixtures through the supporting API, and remove them all afterwards."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from conformance.paging import MAX_PAGE_SIZE
from conformance.target import SetupError, Target
from conformance.text import go_lower
from conformance.world import Account, Dashboard, Ledger, Team, World

# The population's names mix alphabets, so that searches and logins meet letters whose
# case Go folds beyond ASCII (none of them changes length or shape when Go folds it: no
# final sigma, no dotted capital I).
FIRST = ["Zoë", "Ada", "Łukasz", "Grace", "Αθηνά", "Alan", "Дмитрий", "Søren", "Barbara", "Jürgen"]
LAST = ["Straße", "Lovelace", "Ørsted", "Hopper", "Νικολάου", "Turing", "Соколова", "Knuth"]
MAX_CLEANUP_PAGES = 10  # the clean-up search reads at most this many pages of leftovers


def new_prefix() -> str:
    return f"cnf-{secrets.token_hex(4)}-"


def expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise SetupError(
            f"{what}: {response.request.method} {response.request.url.path} "
            f"answered {response.status_code} {response.text[:200]}"
        )
    return response.json() if response.content else None


class Seeder:
    """Creates throwaway resources as the admin, remembering each one in a ledger."""

    def __init__(self, target: Target, prefix: str) -> None:
        self.target = target
        self.prefix = prefix
        self.admin = target.client(target.admin)
        self.ledger = Ledger()
        self.created: dict[int, Any] = {}  # user id -> what POST /api/admin/users answered
        self.accounts: dict[int, Account] = {}  # every user created here, by id
        self.admins: set[int] = set()  # the ids made Grafana Admins here
        self.root: Account | None = None  # the throwaway Grafana Admin, once promoted

    def user(
        self,
        name: str,
        *,
        full_name: str | None = None,
        email: str | None = None,
        org_id: int | None = None,
    ) -> Account:
        # Grafana stores logins and e-mails as Go lower-cases them.
        login = go_lower(f"{self.prefix}{name}")
        body: dict[str, Any] = {
            "login": login,
            "email": go_lower(email or f"{login}@example.org"),
            "name": full_name or name.title(),
            "password": secrets.token_urlsafe(12),
        }
        if org_id is not None:
            body["orgId"] = org_id
        created = expect(self.admin.post("/api/admin/users", json=body), 200, f"create {login}")
        self.ledger.users.append(created["id"])
        self.created[created["id"]] = created
        account = Account(
            id=created["id"],
            login=login,
            email=body["email"],
            name=body["name"],
            password=body["password"],
        )
        self.accounts[account.id] = account
        self.target.recorder.failed_logins.learn(account.password, account.login, account.email)
        return account

    def org(self, name: str) -> int:
        body = {"name": f"{self.prefix}{name}"}
        org_id = int(expect(self.admin.post("/api/orgs", json=body), 200, "create org")["orgId"])
        self.ledger.orgs.append(org_id)
        return org_id

    def add_to_org(self, org_id: int, account: Account, role: str) -> None:
        body = {"loginOrEmail": account.login, "role": role}
        expect(self.admin.post(f"/api/orgs/{org_id}/users", json=body), 200, "add org member")

    def switch_org(self, account: Account, org_id: int) -> None:
        path = f"/api/users/{account.id}/using/{org_id}"
        expect(self.admin.post(path), 200, "switch org")

    def team(self, owner: httpx.Client, name: str, org_id: int, email: str = "") -> Team:
        body = {"name": f"{self.prefix}{name}", "email": email}
        team_id = int(expect(owner.post("/api/teams", json=body), 200, "create team")["teamId"])
        self.ledger.teams.append(team_id)
        return Team(id=team_id, name=body["name"], org_id=org_id)

    def dashboard(self, owner: httpx.Client, title: str) -> Dashboard:
        body: dict[str, Any] = {
            "dashboard": {"id": None, "uid": None, "title": f"{self.prefix}{title}"},
            "overwrite": False,
        }
        saved = expect(owner.post("/api/dashboards/db", json=body), 200, "create dashboard")
        self.ledger.dashboards.append(saved["uid"])
        return Dashboard(id=saved["id"], uid=saved["uid"], title=body["dashboard"]["title"])

    def build(self, population: int) -> World:
        me = expect(self.admin.get("/api/user"), 200, "read the admin's profile")
        main_org = int(me.get("orgId") or 1)
        # The run's own org is `<prefix>org` (World.org_name).
        org, spares = self.org("org"), [self.org("spare-1"), self.org("spare-2")]
        root, actor, plain = self.user("root"), self.user("actor"), self.user("plain")
        disabled, signer = self.user("disabled"), self.user("signer")
        victims = [self.user(f"victim-{i}") for i in range(3)]
        doomed = [self.user(f"doomed-{i}") for i in range(2)]
        people = [
            self.user(
                f"p-{FIRST[i % len(FIRST)]}{i}",
                full_name=f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}",
                email=f"{self.prefix}{LAST[i % len(LAST)]}.{i}@example.org",
            )
            for i in range(population)
        ]
        # New users join the server's default organization; learn which from one of them.
        default = {
            int(o["orgId"]): str(o["role"])
            for o in expect(
                self.admin.get(f"/api/users/{root.id}/orgs"), 200, "read a new user's orgs"
            )
        }
        everyone = [root, actor, plain, disabled, signer, *victims, *doomed, *people]
        memberships = {a.id: dict(default) for a in everyone}
        self.admins.add(root.id)  # before asking: a lost answer may still have promoted it
        self.root = root
        expect(
            self.admin.put(
                f"/api/admin/users/{root.id}/permissions", json={"isGrafanaAdmin": True}
            ),
            200,
            "promote root",
        )
        joining = [(root, "Admin"), (actor, "Editor"), (plain, "Editor")]
        joining += [(person, "Viewer") for person in people[::3]]
        for account, role in joining:
            self.add_to_org(org, account, role)
            memberships[account.id][org] = role
        self.switch_org(root, org)
        self.switch_org(actor, org)
        as_root = self.target.client(root.basic)
        teams = [
            self.team(as_root, "team-ä", org),
            self.team(as_root, "team-β", org, f"{self.prefix}team-b@example.org"),
        ]
        spare_team, doomed_team = (
            self.team(as_root, "spare", org),
            self.team(as_root, "doomed", org),
        )
        members = {teams[0].id: {root.id, actor.id, plain.id}, teams[1].id: {root.id, people[0].id}}
        for team in teams:
            for user_id in members[team.id] - {root.id}:
                expect(
                    as_root.post(f"/api/teams/{team.id}/members", json={"userId": user_id}),
                    200,
                    "add team member",
                )
        dashboards = [self.dashboard(as_root, f"dash-{i}") for i in range(3)]
        doomed_dashboard = dashboards.pop()
        sa = expect(
            as_root.post(
                "/api/serviceaccounts", json={"name": f"{self.prefix}sa", "role": "Viewer"}
            ),
            201,
            "SA",
        )
        self.ledger.service_accounts.append(sa["id"])
        token = expect(
            as_root.post(
                f"/api/serviceaccounts/{sa['id']}/tokens", json={"name": f"{self.prefix}token"}
            ),
            200,
            "SA token",
        )
        expect(self.admin.post(f"/api/admin/users/{disabled.id}/disable"), 200, "disable")
        return World(
            prefix=self.prefix,
            admin_id=int(me["id"]),
            main_org=main_org,
            default_org=next(iter(default), main_org),
            org=org,
            spare_orgs=spares,
            root=root,
            actor=actor,
            actor_session=self.target.login(actor.login, actor.password),
            plain=plain,
            disabled=disabled,
            signer=signer,
            victims=victims,
            doomed=doomed,
            population=people,
            teams=teams,
            spare_team=spare_team,
            doomed_team=doomed_team,
            dashboards=dashboards,
            doomed_dashboard=doomed_dashboard,
            service_account_id=int(sa["id"]),
            token=str(token["key"]),
            token_role=str(sa["role"]),
            memberships=memberships,
            team_members=members,
            ledger=self.ledger,
        )

    def cleanup(self) -> Cleanup:
        """Remove everything in the ledger, newest first, then look for users carrying the
        run's prefix that the ledger missed (and remove those too); report what is left."""
        result = Cleanup()
        ledger = self.ledger
        admin_login = (self.target.admin.basic or ("", ""))[0]
        if not self.target.recorder.failed_logins.confirmed(admin_login):
            # Nothing can have been made; asking again would be one more failed login.
            result.skipped = (
                "Not needed: the admin's credentials were never accepted, so the run made "
                "nothing (and did not try them again: each try is a failed login)."
            )
            return result

        def remove(client: httpx.Client, kind: str, ident: object, path: str) -> None:
            problem = removal_problem(client, path)
            if problem is None:
                result.removed += 1
            elif kind == "user" and isinstance(ident, int):
                result.leftovers.append(self._user_left(ident, problem))
            else:
                result.leftovers.append(Leftover(kind, str(ident), reason=problem))

        # Teams, dashboards and service accounts live in the run's org: remove them as root.
        owner_credentials = self.root.basic if self.root else self.target.admin
        with self.target.session(owner_credentials) as owner:
            for uid in reversed(ledger.dashboards):
                # A target may have accepted a uid that needs escaping in a path.
                remove(owner, "dashboard", uid, f"/api/dashboards/uid/{quote(uid, safe='')}")
            for team_id in reversed(ledger.teams):
                remove(owner, "team", team_id, f"/api/teams/{team_id}")
            for sa_id in reversed(ledger.service_accounts):
                # Outside the contract; a Grafana also drops them with their org.
                remove(owner, "service account", sa_id, f"/api/serviceaccounts/{sa_id}")
        for user_id in reversed(ledger.users):
            remove(self.admin, "user", user_id, f"/api/admin/users/{user_id}")
        for org_id in reversed(ledger.orgs):
            remove(self.admin, "org", org_id, f"/api/orgs/{org_id}")
        self._sweep(result)
        return result

    def _user_left(self, user_id: int, problem: str) -> Leftover:
        """A user that could not be removed, named, and whether it is a Grafana Admin."""
        known = self.accounts.get(user_id)
        admin: bool | None = True if user_id in self.admins else None
        login = known.login if known else ""
        try:
            profile = self.admin.get(f"/api/users/{user_id}")
            if profile.status_code == 200:
                body = profile.json()
                login = str(body.get("login") or login)
                admin = bool(body.get("isGrafanaAdmin")) or user_id in self.admins
        except (httpx.HTTPError, ValueError):
            pass  # unreadable: unknown, unless this run promoted it
        return Leftover("user", str(user_id), label=login, grafana_admin=admin, reason=problem)

    def _sweep(self, result: Cleanup) -> None:
        """Users whose login or e-mail starts with the run's prefix are the run's own,
        whether or not the ledger knew them: remove them, a bounded page at a time."""
        left = {item.ident for item in result.leftovers if item.kind == "user"}
        found: list[dict[str, Any]] = []
        try:
            for page in range(1, MAX_CLEANUP_PAGES + 1):
                answer = self.admin.get(
                    "/api/users/search",
                    params={"query": self.prefix, "perpage": MAX_PAGE_SIZE, "page": page},
                )
                if answer.status_code != 200:
                    result.search_note = f"the search for leftovers answered {answer.status_code}"
                    return
                hits = answer.json().get("users") or []
                found += [h for h in hits if isinstance(h, dict)]
                if len(hits) < MAX_PAGE_SIZE:
                    break
            else:
                result.search_note = (
                    f"more than {MAX_CLEANUP_PAGES * MAX_PAGE_SIZE} users carry the prefix; "
                    "only those were looked at"
                )
        except (httpx.HTTPError, ValueError) as exc:
            result.search_note = f"the search for leftovers failed: {exc}"
            return
        for hit in found:
            names = (go_lower(str(hit.get("login", ""))), go_lower(str(hit.get("email", ""))))
            if not any(name.startswith(self.prefix) for name in names):
                continue  # the prefix only somewhere in the name: not made by this run
            user_id = hit.get("id")
            if not isinstance(user_id, int) or str(user_id) in left:
                continue
            problem = removal_problem(self.admin, f"/api/admin/users/{user_id}")
            if problem is None:
                result.removed += 1
                continue
            result.leftovers.append(
                Leftover(
                    "user",
                    str(user_id),
                    label=str(hit.get("login", "")),
                    grafana_admin=bool(hit.get("isAdmin")) or user_id in self.admins,
                    reason=f"missed by the ledger, found by the clean-up search; {problem}",
                )
            )
        result.searched = not result.search_note


def removal_problem(client: httpx.Client, path: str) -> str | None:
    """DELETE the path; None when it is gone (404: a test or the fuzzer removed it first)."""
    try:
        status = client.delete(path).status_code
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"DELETE {path}: {exc}"
    return None if status in (200, 404) else f"DELETE {path} answered {status}"


@dataclass(frozen=True)
class Leftover:
    """Something the run made that is still on the target."""

    kind: str  # user, org, team, dashboard, service account
    ident: str  # id, or a dashboard's uid
    label: str = ""  # a user's login when known
    grafana_admin: bool | None = False  # users: a Grafana Admin? None: could not tell
    reason: str = ""

    def describe(self) -> str:
        name = f" {self.label}" if self.label else ""
        return f"{self.kind}{name} (id {self.ident}): {self.reason}"


@dataclass
class Cleanup:
    """What the clean-up did: how much it removed and what is left."""

    removed: int = 0
    leftovers: list[Leftover] = field(default_factory=list)
    searched: bool = False  # the search for users with the run's prefix ran to its end
    search_note: str = ""
    skipped: str = ""  # why the clean-up had nothing to do

    @property
    def admins_left(self) -> list[Leftover]:
        """Users left behind that are, or may be, Grafana Admins."""
        return [i for i in self.leftovers if i.kind == "user" and i.grafana_admin is not False]
