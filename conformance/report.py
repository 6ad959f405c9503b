"""The run's report: report.md for people, observed.json for tools."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from conformance import fingerprints
from conformance.logins import GRAFANA_LIMIT
from conformance.options import RunOptions
from conformance.recorder import Deviation, Recorder
from conformance.seeding import Cleanup, Leftover

ALWAYS = (
    "schemathesis's unsupported_method check is replaced by undeclared_methods_answer_404: "
    "the contract (like Grafana's router) answers a method a path does not serve with 404; "
    "its ignored_auth check by the auth matrix (its probe would be a failed login)."
)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _grouped(deviations: list[Deviation]) -> dict[str, list[Deviation]]:
    groups: defaultdict[str, list[Deviation]] = defaultdict(list)
    seen: set[tuple[str, int | None, str, str]] = set()
    for d in deviations:
        key = (d.operation, d.status, d.field, d.check)
        if key not in seen:  # the same finding repeated by many generated cases counts once
            seen.add(key)
            groups[d.operation].append(d)
    return dict(sorted(groups.items()))


def markdown(options: RunOptions, recorder: Recorder, state: Mapping[str, object]) -> str:
    contract = recorder.contract
    lines = ["# Conformance report", ""]
    lines += [f"> **{line}**" for line in admin_warnings(state)]
    if lines[-1] != "":
        lines.append("")
    lines += [
        f"* Target: {options.target_label}",
        f"* Contract: {options.spec_path}",
        f"* Profile: {options.profile}; seed: {options.seed}; "
        f"run prefix: `{state.get('prefix', '?')}`",
        f"* Requests: {recorder.requests} (and {recorder.cleanup_requests} to clean up); "
        f"duration: {float(str(state.get('elapsed', 0))):.1f} s",
        f"* Failed logins sent: {len(recorder.failed_logins.failed)} "
        f"(at most {recorder.failed_logins.limit} a run); session renewals: "
        f"{len(recorder.renewals)}",
        f"* Grafana release expected: {options.grafana_version}",
        "* Version differences accepted: " + (", ".join(sorted(options.tolerances)) or "none"),
    ]
    spec = recorder.contract
    lines += [
        f"  * `{name}`: {spec.differences[name].description} (on "
        + ", ".join(op.operation_id for op in spec.operations if name in op.differences)
        + ")"
        for name in sorted(options.tolerances)
    ]
    lines += [f"* Always: {ALWAYS}", ""]
    lines += version_section(options, recorder)
    groups = _grouped(recorder.deviations)
    lines += [f"## Deviations ({sum(len(g) for g in groups.values())})", ""]
    if not groups:
        lines += ["None: the target conforms to the contract.", ""]
    for operation_id, found in groups.items():
        title = operation_id
        if operation_id in {op.operation_id for op in contract.operations}:
            title += f" ({contract[operation_id].label})"
        lines += [
            f"### {title}",
            "",
            "| Status | Field | Check / test | Detail |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {d.status or '-'} | {_cell(d.field)} | {_cell(d.check)} | {_cell(d.detail)} |"
            for d in found
        ]
        lines.append("")
    missing = recorder.unobserved()
    lines += [
        f"## Documented statuses never observed ({sum(map(len, missing.values()))})",
        "",
        "5xx statuses are not expected to be provoked and are not listed.",
        "",
    ]
    if missing:
        lines += ["| Operation | Statuses |", "|---|---|"]
        lines += [f"| {op} | {', '.join(map(str, codes))} |" for op, codes in missing.items()]
    lines += ["", "## Observed statuses", "", "| Operation | Status: answers |", "|---|---|"]
    for operation in contract.operations:
        seen: Mapping[int, int] = recorder.observed.get(operation.operation_id, {})
        counts = ", ".join(f"{code}: {n}" for code, n in sorted(seen.items())) or "none"
        lines.append(f"| {operation.operation_id} | {counts} |")
    lines += ["", *failed_logins_section(recorder), *renewals_section(recorder)]
    lines += cleanup_section(state)
    return "\n".join(lines) + "\n"


def _cleanup(state: Mapping[str, object]) -> Cleanup | None:
    found = state.get("cleanup")
    return found if isinstance(found, Cleanup) else None


def _admin_line(item: Leftover) -> str:
    login = f"`{item.label}` " if item.label else ""
    maybe = "may be" if item.grafana_admin is None else "is"
    return (
        f"A throwaway user that {maybe} a Grafana Admin was left on the target: {login}"
        f"(id {item.ident}). Remove it by hand: DELETE /api/admin/users/{item.ident}"
    )


def admin_warnings(state: Mapping[str, object]) -> list[str]:
    """One line per throwaway Grafana Admin (or possible one) the clean-up left behind."""
    cleanup = _cleanup(state)
    return [_admin_line(item) for item in cleanup.admins_left] if cleanup else []


def cleanup_section(state: Mapping[str, object]) -> list[str]:
    lines = ["## Clean-up", ""]
    cleanup = _cleanup(state)
    if "cleanup_note" in state:
        return [*lines, str(state["cleanup_note"])]
    if cleanup is None:
        return [*lines, "Did not run: the run's fixtures were never set up (nothing was made)."]
    if cleanup.skipped:
        return [*lines, cleanup.skipped]
    lines += [f"**{line}**" for line in admin_warnings(state)]
    if cleanup.leftovers:
        lines += [
            f"{len(cleanup.leftovers)} of the run's resources are still on the target "
            f"({cleanup.removed} removed):",
            "",
        ]
        lines += [f"* {item.describe()}" for item in cleanup.leftovers]
    if not cleanup.searched:
        lines.append(
            f"* The search for users with the run's prefix did not finish "
            f"({cleanup.search_note}): others may be left."
        )
    if not cleanup.leftovers and cleanup.searched:
        lines.append(
            f"Everything the run created was removed ({cleanup.removed} resources); no user "
            "with the run's prefix is left."
        )
    return lines


def failed_logins_section(recorder: Recorder) -> list[str]:
    accounting = recorder.failed_logins
    lines = [
        f"## Failed logins ({len(accounting.failed)})",
        "",
        f"Wrong passwords (or passwords for unknown names) the run sent: at most "
        f"{accounting.limit} a run and {min(accounting.per_login, accounting.limit)} a login, "
        f"below Grafana's lock-out of {GRAFANA_LIMIT} in 5 minutes per login and, when IP "
        "protection is on, per client address. A second run from the same address within "
        "5 minutes adds its own.",
        "",
    ]
    if accounting.failed:
        lines += ["| Login | Request | Status | Test |", "|---|---|---|---|"]
        lines += [
            f"| {_cell(f.login)} | {_cell(f.request)} | {f.status} | {_cell(f.test)} |"
            for f in accounting.failed
        ]
        lines.append("")
    lines += [f"* {_cell(reason)}" for reason in accounting.refused]
    if accounting.refused:
        lines.append("")
    return lines


def renewals_section(recorder: Recorder) -> list[str]:
    lines = [f"## Session renewals ({len(recorder.renewals)})", ""]
    if not recorder.renewals:
        return [*lines, "The actor's session never needed renewing.", ""]
    lines += ["| Test | Why | How | Worked |", "|---|---|---|---|"]
    lines += [
        f"| {_cell(r.test)} | {_cell(r.reason)} | {_cell(r.how)} | {'yes' if r.ok else 'no'} |"
        for r in recorder.renewals
    ]
    return [*lines, ""]


def behaves_as(options: RunOptions, recorder: Recorder) -> str:
    """Which listed Grafana releases the target's fingerprints agree with, in words."""
    if not recorder.fingerprints:
        return "not measured (the version fingerprints did not run)"
    matching = fingerprints.releases_matching(options.contract, recorder.fingerprints)
    if matching:
        return ", ".join(matching)
    return "none of the listed releases"


def version_section(options: RunOptions, recorder: Recorder) -> list[str]:
    """The Grafana release expected, and what each version fingerprint saw."""
    lines = [
        "## Grafana release",
        "",
        f"* Expected: {options.grafana_version}",
        f"* /api/health says: {recorder.health_version or 'not asked'}",
        f"* The target behaves as: {behaves_as(options, recorder)}",
        "",
    ]
    if recorder.fingerprints:
        spec = options.contract
        lines += [
            "| Difference | Releases with it | Target has it | Expected |",
            "|---|---|---|---|",
        ]
        for name, holds in sorted(recorder.fingerprints.items()):
            difference = spec.differences[name]
            has = "answers as no release" if holds is None else ("yes" if holds else "no")
            expected = "yes" if difference.holds_in(options.grafana_version) else "no"
            lines.append(f"| `{name}` | {difference.span} | {has} | {expected} |")
        lines.append("")
    return lines


def write(
    directory: Path, options: RunOptions, recorder: Recorder, state: Mapping[str, object]
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.md").write_text(markdown(options, recorder, state), encoding="utf-8")
    data = {
        "observed": {op: dict(counts) for op, counts in recorder.observed.items()},
        "unobserved": recorder.unobserved(),
        "deviations": [asdict(d) for d in recorder.deviations],
        "grafanaVersion": options.grafana_version,
        "fingerprints": recorder.fingerprints,
        "behavesAs": fingerprints.releases_matching(options.contract, recorder.fingerprints)
        if recorder.fingerprints
        else None,
        "tolerances": sorted(options.tolerances),
    }
    (directory / "observed.json").write_text(json.dumps(data, indent=2), encoding="utf-8")


def summary_lines(
    options: RunOptions, recorder: Recorder, state: Mapping[str, object]
) -> list[str]:
    groups = _grouped(recorder.deviations)
    missing = recorder.unobserved()
    lines = [
        f"conformance: {options.target_label} as Grafana {options.grafana_version}, "
        f"profile {options.profile}, seed {options.seed}, "
        f"differences accepted: {', '.join(sorted(options.tolerances)) or 'none'}",
        f"conformance: {recorder.requests} requests; "
        f"{sum(len(g) for g in groups.values())} distinct deviations in {len(groups)} operations; "
        f"{sum(map(len, missing.values()))} documented statuses never observed",
    ]
    if options.report_dir is not None:
        lines.append(f"conformance: report written to {options.report_dir / 'report.md'}")
    lines.append(
        f"conformance: {len(recorder.failed_logins.failed)} failed logins sent (at most "
        f"{recorder.failed_logins.limit}); {len(recorder.renewals)} session renewals"
    )
    cleanup = _cleanup(state)
    if cleanup is not None and cleanup.leftovers:
        shown = "; ".join(item.describe() for item in cleanup.leftovers[:3])
        lines.append(f"conformance: clean-up left {len(cleanup.leftovers)} resources: {shown}")
    elif cleanup is not None and not cleanup.searched and not cleanup.skipped:
        lines.append(f"conformance: clean-up could not look for leftovers ({cleanup.search_note})")
    lines += [f"conformance: WARNING: {line}" for line in admin_warnings(state)]
    return lines
