"""The run's report: report.md for people, observed.json for tools."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from conformance import fingerprints
from conformance.options import RunOptions
from conformance.recorder import Deviation, Recorder

ALWAYS = (
    "schemathesis's unsupported_method check is replaced by undeclared_methods_answer_404: "
    "the contract (like Grafana's router) answers a method a path does not serve with 404."
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
    lines = [
        "# Conformance report",
        "",
        f"* Target: {options.target_label}",
        f"* Contract: {options.spec_path}",
        f"* Profile: {options.profile}; seed: {options.seed}; "
        f"run prefix: `{state.get('prefix', '?')}`",
        f"* Requests: {recorder.requests}; duration: {float(str(state.get('elapsed', 0))):.1f} s",
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
    problems = state.get("cleanup_problems") or []
    lines += ["", "## Clean-up", ""]
    if "cleanup_note" in state:
        lines.append(str(state["cleanup_note"]))
    elif isinstance(problems, list) and problems:
        lines += [f"* {p}" for p in problems]
    else:
        lines.append("Everything the run created was removed.")
    return "\n".join(lines) + "\n"


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
    problems = state.get("cleanup_problems")
    if isinstance(problems, list) and problems:
        lines.append(f"conformance: clean-up left {len(problems)} problems: {problems[:3]}")
    return lines
