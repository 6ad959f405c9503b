"""Build the static API documentation: `python -m docs.build OUTDIR`.

Writes OUTDIR/index.html: Redoc, rendered by Redocly CLI's `build-docs` with the Redoc
bundle inlined, for a temporary copy of openapi.yaml that has docs/errata.md as an extra
`Errata` page (openapi.yaml itself is never modified). The page needs no network when
it is built or viewed: a Content-Security-Policy in the page forbids every fetch except
inline and data:/blob: content, which also keeps Redoc's attribution logo (the only
remote URL in the bundle) from being requested. Two builds of the same inputs are
byte-identical.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

import contract
from docs import contract_text

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "openapi.yaml"
ERRATA_PATH = ROOT / "docs" / "errata.md"
REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"
REDOCLY_CONFIG = ROOT / "redocly.yaml"
ERRATA_TAG = "Errata"
BUILD_TIMEOUT_SECONDS = 300

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
_TAG = re.compile(r"<(script|link)\b[^>]*>", re.IGNORECASE)
_REMOTE_ATTRIBUTE = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)

# Everything Redoc needs is inline; nothing may come from the network (or the disk).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src data: blob:; worker-src blob:; "
    "base-uri 'none'; form-action 'none'"
)


class BuildError(RuntimeError):
    """The documentation could not be built."""


def say(message: str) -> None:
    """One progress line on stdout."""
    sys.stdout.write(f"docs: {message}\n")
    sys.stdout.flush()


def _escape_html(line: str) -> str:
    """Escape `<` outside code spans, so text such as `/avatar/<md5>` is not read as HTML."""
    out: list[str] = []
    position = 0
    for match in _CODE_SPAN.finditer(line):
        out.append(line[position : match.start()].replace("<", "&lt;"))
        out.append(match.group(0))
        position = match.end()
    out.append(line[position:].replace("<", "&lt;"))
    return "".join(out)


def errata_description(markdown: str) -> str:
    """docs/errata.md as the Markdown description of the `Errata` page.

    The page's `# Title: subtitle` line is dropped (the tag name is the page title) and
    its subtitle becomes a bold lead paragraph; the other headings keep their levels.
    `<` outside code is escaped, so Redoc does not read text such as `<md5>` as HTML.
    """
    lines = markdown.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    in_fence = False
    seen_title = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) == 1 and not seen_title:
            seen_title = True
            _, _, subtitle = heading.group(2).partition(":")
            text = subtitle.strip().rstrip(".")
            if text:
                out.append(f"**{_escape_html(text[:1].upper() + text[1:])}.**")
            continue
        out.append(_escape_html(line))
    return "\n".join(out).strip() + "\n"


def docs_spec(spec: dict[str, Any], errata_markdown: str) -> dict[str, Any]:
    """A copy of the contract with the errata as a last, operation-less `Errata` page, and
    Grafana's rules from the contract's extensions written out where Redoc shows them.

    The page is a tag marked `x-traitTag` (Redoc's extension for a tag that documents
    rather than groups operations), so it appears in the side menu after the operations
    with one entry per errata heading.
    """
    rules = contract.parse(spec)
    result = copy.deepcopy(spec)
    for operation in rules.operations:
        target = result["paths"][operation.path][operation.method.lower()]
        extra = [contract_text.access_text(operation), contract_text.differences_text(operation)]
        target["description"] = "\n\n".join(
            part for part in [str(target.get("description", "")).rstrip(), *extra] if part
        )
    errata_markdown = errata_markdown.replace(
        contract_text.VERSIONS_MARKER, contract_text.versions_table(rules)
    )
    tags = [tag for tag in result.get("tags", []) if tag.get("name") != ERRATA_TAG]
    tags.append(
        {
            "name": ERRATA_TAG,
            "description": errata_description(errata_markdown),
            "x-traitTag": True,
        }
    )
    result["tags"] = tags
    return result


def remote_assets(html: str) -> list[str]:
    """The <script>/<link> tags of `html` that load something from the network."""
    return [tag.group(0) for tag in _TAG.finditer(html) if _REMOTE_ATTRIBUTE.search(tag.group(0))]


def add_content_security_policy(html: str) -> str:
    """Put the offline-only Content-Security-Policy first in <head>."""
    head = _HEAD.search(html)
    if head is None:
        raise BuildError("redocly wrote a page without <head>")
    meta = f'\n  <meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}" />'
    return html[: head.end()] + meta + html[head.end() :]


def _run_redocly(spec_file: Path, output: Path, title: str) -> None:
    if not REDOCLY.exists():
        raise BuildError(f"{REDOCLY.relative_to(ROOT)} is missing: run `make install` first")
    command = [
        str(REDOCLY), "build-docs", str(spec_file),
        "--inlineBundle",
        "--output", str(output),
        "--title", title,
        "--config", str(REDOCLY_CONFIG),
        "--lint-config", "off",
    ]  # fmt: skip
    env = dict(os.environ)
    env.update(
        REDOCLY_TELEMETRY="off",
        REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
        NO_COLOR="1",
        TZ="UTC",
        SOURCE_DATE_EPOCH="0",
    )
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=BUILD_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"redocly build-docs took more than {BUILD_TIMEOUT_SECONDS}s") from exc
    if done.returncode != 0 or not output.exists():
        raise BuildError(
            f"redocly build-docs failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )


def build(outdir: Path, *, spec_path: Path = SPEC_PATH, errata_path: Path = ERRATA_PATH) -> Path:
    """Build OUTDIR/index.html and return its path."""
    started = time.monotonic()
    say(f"reading {spec_path.name}")
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict):
        raise BuildError(f"{spec_path} is not an OpenAPI document")
    errata = errata_path.read_text(encoding="utf-8")
    entries = sum(1 for line in errata.splitlines() if line.startswith("### "))
    say(f"adding {errata_path.name} ({entries} entries) as an `Errata` page of a temporary copy")
    spec_for_docs = docs_spec(spec, errata)
    title = str(spec_for_docs["info"].get("title", "API documentation"))
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / "index.html"
    with tempfile.TemporaryDirectory(prefix="userapi-docs-") as scratch:
        spec_file = Path(scratch) / "openapi.json"
        spec_file.write_text(
            json.dumps(spec_for_docs, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        rendered = Path(scratch) / "index.html"
        say("running redocly build-docs --inlineBundle (Redoc bundled into the page)")
        _run_redocly(spec_file, rendered, title)
        html = rendered.read_text(encoding="utf-8")
        if scratch in html:
            # Keep the output independent of where the temporary copy lived.
            html = html.replace(scratch, ".")
    html = add_content_security_policy(html)
    remote = remote_assets(html)
    if remote:
        raise BuildError(f"the page would load assets from the network: {remote[:3]}")
    data = html.encode("utf-8")
    partial = target.with_suffix(".html.partial")
    partial.write_bytes(data)
    shutil.move(partial, target)
    digest = hashlib.sha256(data).hexdigest()[:16]
    say(
        f"wrote {target} ({len(data) / 1024:.0f} KiB, sha256 {digest}…) "
        f"in {time.monotonic() - started:.1f}s"
    )
    return target


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: python -m docs.build OUTDIR\n")
        return 2
    try:
        build(Path(args[0]))
    except BuildError as exc:
        sys.stderr.write(f"docs: error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
