"""Grafana's rules from the contract's extensions, as Markdown for the rendered docs.

Redoc does not show `x-` extensions, so the docs build writes them into the page: each
operation's access rule and version differences at the end of its description, and the
table of Grafana versions (which release has which difference) on the Errata page.
"""

from __future__ import annotations

from contract import ANONYMOUS, GRAFANA_ADMIN, ORG_ROLE, SIGNED_IN, Contract, Operation

VERSIONS_MARKER = "<!-- grafana versions: generated from openapi.yaml -->"


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


def differences_text(operation: Operation) -> str:
    """The version differences that show on an operation, or "" when it has none."""
    if not operation.differences:
        return ""
    names = ", ".join(f"`{name}`" for name in sorted(operation.differences))
    return f"**Differs between Grafana versions:** {names} (see Errata, Grafana versions)."


def versions_table(spec: Contract) -> str:
    """Every version difference against every described release: which have it, what it
    is, where it shows, and the Grafana source it was read from."""
    releases = spec.versions.names
    lines = [
        "| Difference | " + " | ".join(releases) + " | What it is | Operations | Source |",
        "|---|" + "---|" * len(releases) + "---|---|---|",
    ]
    for name, difference in sorted(spec.differences.items()):
        marks = " | ".join("✓" if difference.holds_in(r) else "" for r in releases)
        where = ", ".join(
            f"`{op.operation_id}`" for op in spec.operations if name in op.differences
        )
        lines.append(
            f"| `{name}` | {marks} | {difference.description} | {where} | {difference.source} |"
        )
    lines += [
        "",
        "| Release | `/api/health` version | Read from |",
        "|---|---|---|",
    ]
    lines += [f"| {r.version} | `{r.health}` | {r.source} |" for r in spec.versions.releases]
    return "\n".join(lines)
