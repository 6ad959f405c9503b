"""Create the run's fixtures through the supporting API, and remove them all afterwards."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import httpx

from conformance.target import Credentials, SetupError, Target
from conformance.world import Account, Dashboard, Ledger, Team, World

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Linus", "Frances", "Joan"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Thompson", "Allen"]


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

    def user(
        self,
        name: str,
        *,
        full_name: str | None = None,
        email: str | None = None,
        org_id: int | None = None,
    ) -> Account:
        login = f"{self.prefix}{name}".lower()
        body: dict[str, Any] = {
            "login": login,
            "email": email or f"{login}@example.org",
            "name": full_name or name.title(),
            "password": secrets.token_urlsafe(12),
        }
        if org_id is not None:
            body["orgId"] = org_id
        created = expect(self.admin.post("/api/admin/users", json=body), 200, f"create {login}")
        self.ledger.users.append(created["id"])
        self.created[created["id"]] = created
        return Account(
            id=created["id"],
            login=login,
            email=body["email"].lower(),
            name=body["name"],
            password=body["password"],
        )

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
        org, spares = self.org("org"), [self.org("spare-1"), self.org("spare-2")]
        root, actor, plain = self.user("root"), self.user("actor"), self.user("plain")
        disabled, locked = self.user("disabled"), self.user("locked")
        victims = [self.user(f"victim-{i}") for i in range(3)]
        doomed = [self.user(f"doomed-{i}") for i in range(2)]
        people = [
            self.user(
                f"p-{FIRST[i % len(FIRST)]}{i}".lower(),
                full_name=f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}",
                email=f"{self.prefix}{LAST[i % len(LAST)]}.{i}@example.org".lower(),
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
        everyone = [root, actor, plain, disabled, locked, *victims, *doomed, *people]
        memberships = {a.id: dict(default) for a in everyone}
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
            self.team(as_root, "team-a", org),
            self.team(as_root, "team-b", org, f"{self.prefix}team-b@example.org"),
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
            locked=locked,
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

    def cleanup(self, root: Credentials | None) -> list[str]:
        """Remove everything in the ledger, newest first; return what could not be removed."""
        problems: list[str] = []
        ledger = self.ledger

        def remove(client: httpx.Client, path: str) -> None:
            try:
                status = client.delete(path).status_code
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                problems.append(f"DELETE {path}: {exc}")
                return
            if status not in (200, 404):
                problems.append(f"DELETE {path} answered {status}")

        # Teams, dashboards and service accounts live in the run's org: remove them as root.
        with self.target.session(root or self.target.admin) as owner:
            for uid in reversed(ledger.dashboards):
                # A target may have accepted a uid that needs escaping in a path.
                remove(owner, f"/api/dashboards/uid/{quote(uid, safe='')}")
            for team_id in reversed(ledger.teams):
                remove(owner, f"/api/teams/{team_id}")
            for sa_id in reversed(ledger.service_accounts):
                # Outside the contract; a Grafana also drops them with their org.
                owner.delete(f"/api/serviceaccounts/{sa_id}")
        for user_id in reversed(ledger.users):
            remove(self.admin, f"/api/admin/users/{user_id}")
        for org_id in reversed(ledger.orgs):
            remove(self.admin, f"/api/orgs/{org_id}")
        return problems
