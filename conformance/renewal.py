"""The actor's login session, kept alive for the whole run.

Generated requests for the signed-in user's own operations go out with the throwaway
actor's session cookie (a cookie survives the fuzzer changing the actor's login). Grafana
replaces session tokens as they age - by a Set-Cookie on an answer, or, in newer releases,
by refusing the old one until the client calls POST /api/user/auth-tokens/rotate - and
ends them when they expire. Without care the rest of the run would see only 401s. So:

* a Set-Cookie that names a new `grafana_session` is followed at once;
* a 401 to a request made with the session, where the session itself no longer gets the
  caller's profile, renews it - rotated where the server offers that, otherwise by
  signing in again with the actor's (known, never fuzzed) password - and the request is
  sent once more.

Every renewal is recorded for the report.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from conformance.recorder import Recorder, Renewal
from conformance.target import Credentials, SetupError, Target, replaced_session
from conformance.world import Account

ROTATE_PATH = "/api/user/auth-tokens/rotate"


class ActorSession:
    """The actor's current session cookie, followed and renewed as the server asks."""

    def __init__(
        self, target: Target, recorder: Recorder, actor: Account, cookie: str, root: Account
    ) -> None:
        self.target, self.recorder = target, recorder
        self.actor, self.root = actor, root
        self.cookie = cookie

    @property
    def credentials(self) -> Credentials:
        return Credentials(session=self.cookie)

    def _record(self, reason: str, how: str, ok: bool) -> None:
        self.recorder.renewals.append(Renewal(self.recorder.current_test, reason, how, ok))

    def follow(self, set_cookies: Iterable[str]) -> bool:
        """Take the new session an answer's Set-Cookie headers give (True when they did)."""
        renewed = replaced_session(set_cookies)
        if not renewed or renewed == self.cookie:
            return False
        self.cookie = renewed
        self._record("the server replaced the session (Set-Cookie)", "followed it", True)
        return True

    def expired(self) -> bool:
        """Whether the session no longer signs the actor in (GET /api/user answers 401)."""
        with self.target.session(self.credentials) as client:
            response = client.get("/api/user")
        if self.follow(response.headers.get_list("set-cookie")):
            return False
        return response.status_code == 401

    def renew(self, reason: str) -> bool:
        """A new session for the actor: rotated if the server offers it, else by signing in
        again. False when neither worked (recorded too)."""
        with self.target.session(self.credentials) as client:
            rotated = client.post(ROTATE_PATH)
        new = replaced_session(rotated.headers.get_list("set-cookie"))
        if rotated.status_code == 200 and new:
            self.cookie = new
            self._record(reason, f"rotated (POST {ROTATE_PATH})", True)
            return True
        login = self._current_login()
        try:
            self.cookie = self.target.login(login, self.actor.password)
        except (SetupError, httpx.HTTPError) as exc:
            self._record(reason, f"signing in again as {login} failed: {exc}", False)
            return False
        self._record(reason, f"signed in again as {login}", True)
        return True

    def _current_login(self) -> str:
        """The actor's login now (the fuzzer may have changed it), read as root."""
        try:
            with self.target.session(self.root.basic) as client:
                profile = client.get(f"/api/users/{self.actor.id}")
            if profile.status_code == 200:
                return str(profile.json().get("login") or self.actor.login)
        except (httpx.HTTPError, ValueError):
            pass
        return self.actor.login
