"""The run's fixtures as data: throwaway accounts, orgs, teams, dashboards and a token.

Every name carries the run's prefix (`cnf-<random>-`). The real admin account is used only
to create and remove these; tests act as the throwaway accounts below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.target import Credentials
from contract import Operation


@dataclass(frozen=True)
class Account:
    id: int
    login: str
    email: str
    name: str
    password: str

    @property
    def basic(self) -> Credentials:
        return Credentials(basic=(self.login, self.password))


@dataclass(frozen=True)
class Team:
    id: int
    name: str
    org_id: int


@dataclass(frozen=True)
class Dashboard:
    id: int
    uid: str
    title: str


# What a create operation made, by the path parameter its links fill with the new id.
_KINDS = {
    "user_id": "users",
    "org_id": "orgs",
    "team_id": "teams",
    "uid": "dashboards",
    "serviceAccountId": "service_accounts",
}


@dataclass
class Ledger:
    """Everything created on the target, removed (newest first) when the run ends."""

    users: list[int] = field(default_factory=list)
    orgs: list[int] = field(default_factory=list)
    teams: list[int] = field(default_factory=list)
    dashboards: list[str] = field(default_factory=list)
    service_accounts: list[int] = field(default_factory=list)

    def adopt(self, operation: Operation, status: int, body: object) -> None:
        """Remember what a successful create call made (by the fuzzer or a test): the
        contract's links say which field of the answer holds the new id."""
        if not (200 <= status < 300 and isinstance(body, dict)):
            return
        for parameter, pointer in operation.created.items():
            kind = _KINDS.get(parameter)
            value = body.get(pointer.strip("/"))
            if kind is None or isinstance(value, bool):
                continue
            if kind == "dashboards" and isinstance(value, str):
                self.dashboards.append(value)
            elif kind != "dashboards" and isinstance(value, int):
                getattr(self, kind).append(value)


@dataclass
class World:
    prefix: str
    admin_id: int
    main_org: int  # the admin's current organization
    default_org: int  # the organization new users join
    org: int  # the run's own organization
    spare_orgs: list[int]  # victims of deleteOrgByID
    root: Account  # throwaway Grafana Admin; current org: `org`
    actor: Account  # throwaway user behind the fuzzed /api/user operations
    actor_session: str
    plain: Account  # ordinary user: Viewer in the main org, Editor in `org`
    disabled: Account
    signer: Account  # the fuzzed POST /login signs in as this account, with its password
    victims: list[Account]  # targets of the fuzzed admin writes
    doomed: list[Account]  # targets of the fuzzed user deletion
    population: list[Account]  # users the search properties look for; logins start `<prefix>p-`
    teams: list[Team]  # with the memberships in `team_members`
    spare_team: Team  # the fuzzer adds members to it
    doomed_team: Team  # the fuzzer deletes it
    dashboards: list[Dashboard]  # starred and unstarred
    doomed_dashboard: Dashboard  # the fuzzer deletes it
    service_account_id: int
    token: str
    token_role: str  # the service account's role in `org`
    memberships: dict[int, dict[int, str]]  # user id -> org id -> role
    team_members: dict[int, set[int]]  # team id -> user ids
    ledger: Ledger

    @property
    def seeded_users(self) -> list[Account]:
        return [
            self.root,
            self.actor,
            self.plain,
            self.disabled,
            self.signer,
            *self.victims,
            *self.doomed,
            *self.population,
        ]

    @property
    def population_query(self) -> str:
        """A search query that matches the population and nobody else."""
        return f"{self.prefix}p-"

    @property
    def org_name(self) -> str:
        """The name of the run's own organization (seeding.Seeder.build creates it)."""
        return f"{self.prefix}org"

    @property
    def ghost_uid(self) -> str:
        """A dashboard UID that cannot exist."""
        return f"{self.prefix}ghost"

    @property
    def token_credentials(self) -> Credentials:
        return Credentials(bearer=self.token)

    def teams_of(self, user_id: int) -> set[int]:
        return {team for team, members in self.team_members.items() if user_id in members}

    def readable_user_ids(self) -> list[int]:
        """Ids that read operations may be pointed at (the admin's too: reading is harmless)."""
        return [self.admin_id, *(account.id for account in self.seeded_users)]

    def writable_user_ids(self) -> list[int]:
        """Ids that write operations may be pointed at: throwaway victims only."""
        return [account.id for account in self.victims]
