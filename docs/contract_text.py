"""Grafana's rules from the contract's extensions, as Markdown for the rendered docs.

Redoc does not show `x-` extensions, so the docs build writes them into the page: each
operation's access rule and tolerances at the end of its description, and the table of
named tolerances on the Errata page.
"""

from __future__ import annotations

from contract import ANONYMOUS, GRAFANA_ADMIN, ORG_ROLE, SIGNED_IN, Contract, Operation

TOLERANCES_MARKER = "<!-- named tolerances: generated from openapi.yaml -->"


def access_text(operation: Operation) -> str:
    """Who may call the operation, what Grafana checks, and what others get."""
    rule = operation.access
    if rule.who == ANONYMOUS:
        return f"**Access:** anyone, no credentials needed. *Source:* `{rule.source}`."
    if rule.who == SIGNED_IN:
        who = "any signed-in identity (users and service-account tokens)"
    elif rule.who == GRAFANA_ADMIN:
        who = "Grafana Admins"
    elif rule.who == ORG_ROLE:
        org = (
            f"the organization `{rule.org_parameter}`"
            if rule.org_parameter
            else "their current organization"
        )
        who = f"callers with the role **{rule.org_role}** or higher in {org}, and Grafana Admins"
    else:
        who = "signed-in users"
    parts = [f"**Access:** {who}."]
    if rule.action:
        scope = f" on `{rule.scope}`" if rule.scope else ""
        parts.append(f"Grafana checks the permission `{rule.action}`{scope}.")
    if rule.non_user is not None:
        answer = (
            "304 with no body"
            if rule.non_user.message is None
            else (f'{rule.non_user.status} `{{"message": "{rule.non_user.message}"}}`')
        )
        parts.append(f"Other identities (service-account tokens) get {answer}.")
    elif rule.who in (GRAFANA_ADMIN, ORG_ROLE):
        body = (
            "the access-denied body"
            if rule.denial == "rbac"
            else (f'`{{"message": "{rule.denial_message}"}}`')
        )
        parts.append(f"Anyone else gets 403 with {body}.")
    parts.append(f"*Source:* `{rule.source}`.")
    return " ".join(parts)


def tolerances_text(operation: Operation) -> str:
    """The named tolerances of an operation, or "" when it has none."""
    if not operation.tolerances:
        return ""
    names = ", ".join(f"`{name}`" for name in sorted(operation.tolerances))
    return f"**Tolerated Grafana differences:** {names} (see Errata, Named tolerances)."


def tolerances_table(spec: Contract) -> str:
    """Every named tolerance: what it accepts, which Grafana majors need it, where."""
    lines = [
        "| Tolerance | What to accept | Grafana | Operations |",
        "|---|---|---|---|",
    ]
    for name, tolerance in sorted(spec.tolerances.items()):
        versions = ", ".join(sorted(tolerance.versions, key=int))
        where = ", ".join(f"`{op.operation_id}`" for op in spec.operations if name in op.tolerances)
        lines.append(f"| `{name}` | {tolerance.description} | {versions} | {where} |")
    return "\n".join(lines)
