"""Throwaway resources made on demand by tests, each with a unique name (and in the ledger)."""

from __future__ import annotations

import itertools

from conformance.seeding import Seeder
from conformance.world import Account, Dashboard, Team, World


class Fresh:
    """Makes users, orgs, teams, dashboards and sessions through the seeder."""

    def __init__(self, seeder: Seeder, world: World) -> None:
        self.seeder, self.world = seeder, world
        self.as_root = seeder.target.client(world.root.basic)
        self._numbers = itertools.count(1)

    def name(self, stem: str) -> str:
        return f"{stem}-{next(self._numbers)}"

    def user(self, stem: str = "user") -> Account:
        return self.seeder.user(self.name(stem))

    def org(self) -> int:
        return self.seeder.org(self.name("org"))

    def member(self, role: str = "Viewer") -> Account:
        """A new user who is also a member of the run's org, with `role` there."""
        account = self.user("member")
        self.seeder.add_to_org(self.world.org, account, role)
        return account

    def team_member(self) -> tuple[Team, Account]:
        """A new team of the run's org with a new member (besides its creator)."""
        team, account = self.team(), self.user("member")
        response = self.as_root.post(f"/api/teams/{team.id}/members", json={"userId": account.id})
        response.raise_for_status()
        return team, account

    def team(self) -> Team:
        """A team in the run's org (the root account's current org)."""
        return self.seeder.team(self.as_root, self.name("team"), self.world.org)

    def dashboard(self) -> Dashboard:
        """A dashboard in the run's org."""
        return self.seeder.dashboard(self.as_root, self.name("dash"))

    def session(self, account: Account, user_agent: str = "conformance") -> str:
        """Log in through the form and return the session cookie."""
        return self.seeder.target.login(account.login, account.password, user_agent)
