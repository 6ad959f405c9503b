"""The seventeen (method, path) pairs of Grafana's User HTTP API documentation page."""

from __future__ import annotations

DOCUMENTED_OPERATIONS = frozenset(
    {
        ("GET", "/api/users"),
        ("GET", "/api/users/search"),
        ("GET", "/api/users/{user_id}"),
        ("GET", "/api/users/lookup"),
        ("PUT", "/api/users/{user_id}"),
        ("GET", "/api/users/{user_id}/orgs"),
        ("GET", "/api/users/{user_id}/teams"),
        ("GET", "/api/user"),
        ("PUT", "/api/user/password"),
        ("POST", "/api/users/{user_id}/using/{org_id}"),
        ("POST", "/api/user/using/{org_id}"),
        ("GET", "/api/user/orgs"),
        ("GET", "/api/user/teams"),
        ("POST", "/api/user/stars/dashboard/{dashboard_id}"),
        ("DELETE", "/api/user/stars/dashboard/{dashboard_id}"),
        ("GET", "/api/user/auth-tokens"),
        ("POST", "/api/user/revoke-auth-token"),
    }
)
