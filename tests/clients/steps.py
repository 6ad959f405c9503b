"""Steps the grafana-client tests repeat, and which of the library's methods they cover.

grafana-client (``import grafana_client``) drives the reference server unchanged: see
tests/clients/test_grafana_client_users.py and
tests/clients/test_grafana_client_signed_in_user.py.

Every test talks to the `live_server` fixture (uvicorn on a loopback port, responses
validated against openapi.yaml) over a real socket, on both database backends, with
``GrafanaApi.from_url``: HTTP Basic (login or e-mail and password) and service-account
tokens (``credential="glsa_..."`` is sent as ``Authorization: Bearer``; the tuple
``("api_key", token)`` as Basic).

Methods of grafana-client 5.1.4 that touch the User API and its supporting endpoints,
and where each is covered:

``users`` (class ``Users``)
    search_users (single page and the page-by-page iteration), get_user, find_user,
    update_user, get_user_organisations, get_user_teams - all covered.
``user`` (class ``User``)
    get_actual_user, change_actual_user_password, switch_user_organisation,
    switch_actual_user_organisation, get_actual_user_organisations,
    get_actual_user_teams, star_dashboard / unstar_dashboard (by uid and by numeric id),
    star_actual_user_dashboard / unstar_actual_user_dashboard (deprecated aliases of
    the by-id routes) - all covered.
    get_preferences, update_preferences, patch_preferences call /api/user/preferences,
    which is outside this API: covered only as Grafana's 404 "Not found".
``admin`` (class ``Admin``)
    create_user, change_user_password, change_user_permissions, delete_user,
    set_user_enabled (both ways) - covered. settings, stats, pause_all_alerts are not
    about users (404 here).
``organization`` / ``organizations``
    create_organization, organization_user_add, delete_organization (supporting) and
    organizations.switch_organization (POST /api/user/using/:id, the same operation as
    switch_actual_user_organisation) - covered; find_organization, list_organization,
    organization_user_list, organization_user_update and organization_user_delete
    (supporting, what automation calls) - covered. The remaining org methods (current-org
    users, org preferences, update orgs) are outside this API.
``teams``
    add_team, add_team_member, delete_team, search_teams, get_team_by_name,
    get_team_members and remove_team_member (supporting) - covered; preferences and
    external groups are outside this API.
``dashboard``
    update_dashboard (POST /api/dashboards/db), get_dashboard and delete_dashboard (by
    uid) - covered, as the supporting calls that give us something to star.
``serviceaccount``
    create (POSTs to ``/api/serviceaccounts/`` with a trailing slash) and create_token -
    covered, and the token then authenticates the other calls; get_tokens (supporting)
    - covered. get, update, delete, delete_token and search* are outside this API (404
    here).
``health``
    check (and so ``connect()`` / ``version``) reads /api/frontend/settings, which is
    outside this API: covered only as 404. The server's own health route is
    /api/health, which grafana-client never calls.
``AsyncGrafanaApi``
    the same methods as coroutines over ``niquests.AsyncSession``; the read methods
    are covered once to prove the async transport works too.

The User API has no grafana-client method for GET /api/user/stars, GET
/api/user/auth-tokens or POST /api/user/revoke-auth-token; stars are read back with the
library's own generic ``client.GET``.

Library limitation (not a server defect): for a service-account token Grafana answers
/api/user/orgs, /api/user/teams, POST /api/user/using/:id and PUT /api/user/password
with 304 Not Modified and no body. grafana-client tries to decode every non-204 answer
as JSON, so these four methods raise ``niquests.exceptions.JSONDecodeError`` instead of
returning; a test pins that down with the raw status next to it.
"""

from __future__ import annotations

from typing import Any

from grafana_client import GrafanaApi

from tests.support.api import ADMIN

TIMEOUT = 10.0


def connect(url: str, credential: str | tuple[str, str] = ADMIN) -> GrafanaApi:
    return GrafanaApi.from_url(url, credential=credential, timeout=TIMEOUT)


def create_user(grafana: GrafanaApi, login: str, password: str = "secret-pw") -> int:
    """A user made through the library's own admin call; its id."""
    created: dict[str, Any] = grafana.admin.create_user(
        {
            "name": login.title(),
            "email": f"{login}@example.com",
            "login": login,
            "password": password,
        }
    )
    assert created["message"] == "User created"
    user_id: int = created["id"]
    return user_id
