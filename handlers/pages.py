"""The two HTML pages a Grafana client meets outside /api: the login page (GET /login) and
the page-not-found answer for any unknown path outside /api (Grafana answers those with
its web page and status 404, and only /api paths with a JSON error)."""

from __future__ import annotations

from html import escape

from connexion.lifecycle import ConnexionResponse
from starlette.responses import HTMLResponse, Response

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} - grafana-userapi</title></head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"""

_LOGIN_FORM = """<form id="login">
<label>Email or username <input name="user" autocomplete="username" required></label>
<label>Password
<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
<p id="result" role="status"></p>
<script>
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const answer = await fetch("/login", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({user: form.get("user"), password: form.get("password")}),
  });
  const body = await answer.json();
  document.getElementById("result").textContent = body.message;
});
</script>"""


def _html(title: str, body: str) -> str:
    return _PAGE.format(title=escape(title), body=body)


def login_page() -> Response:
    """GET /login: the form that posts to POST /login (which sets the session cookie)."""
    return HTMLResponse(_html("Log in", _LOGIN_FORM))


def not_found(path: str) -> ConnexionResponse:
    """An unknown path outside /api: a web page with status 404, as Grafana answers."""
    text = _html("Page not found", f"<p>Nothing is served at <code>{escape(path)}</code>.</p>")
    return ConnexionResponse(status_code=404, body=text, content_type="text/html; charset=utf-8")


def is_api(path: str) -> bool:
    """Whether Grafana answers the path's errors as JSON (its /api routes)."""
    return path == "/api" or path.startswith("/api/")
