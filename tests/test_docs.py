"""The generated API documentation: the static Redoc site and the live Swagger UI.

The static site (`python -m docs.build OUTDIR`, `make docs`) must be reproducible and
self-contained; the browser tests (marked `browser`) drive headless Chromium against
the page built here (file://) and against `/docs/` of an in-process server. Every
request that leaves the machine is blocked and recorded, so a CDN dependency fails.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import yaml

import contract
from docs.build import ERRATA_PATH, SPEC_PATH, build, docs_spec
from docs.contract_text import VERSIONS_MARKER
from handlers.app import create_test_app
from tests.support.documented import DOCUMENTED_OPERATIONS
from tests.support.servers import serve_in_thread

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Route

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("USERAPI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
TIMEOUT_MS = 20_000

USER_API_OPERATIONS = DOCUMENTED_OPERATIONS
USER_API_TAGS = ("users", "signed_in_user")


# ---------------------------------------------------------------- the static build


@pytest.fixture(scope="module")
def doc_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A snapshot of openapi.yaml and docs/errata.md, so every build here has equal inputs."""
    folder = tmp_path_factory.mktemp("docs-inputs")
    spec = Path(shutil.copy(SPEC_PATH, folder / "openapi.yaml"))
    errata = Path(shutil.copy(ERRATA_PATH, folder / "errata.md"))
    return spec, errata


@pytest.fixture(scope="module")
def static_docs(tmp_path_factory: pytest.TempPathFactory, doc_inputs: tuple[Path, Path]) -> Path:
    """index.html of one static build."""
    spec, errata = doc_inputs
    return build(tmp_path_factory.mktemp("docs-a"), spec_path=spec, errata_path=errata)


class _AssetTags(HTMLParser):
    """Collects where <script src> and <link href> point, and the inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.csp: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "script" and "src" in values:
            self.urls.append(values["src"])
        elif tag == "script":
            self._in_inline_script = True
            self.inline_scripts.append("")
        elif tag == "link" and "href" in values:
            self.urls.append(values["href"])
        elif tag == "meta" and values.get("http-equiv", "").lower() == "content-security-policy":
            self.csp.append(values.get("content", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


def test_two_static_builds_of_the_same_inputs_are_byte_identical(
    tmp_path: Path, static_docs: Path, doc_inputs: tuple[Path, Path]
) -> None:
    spec, errata = doc_inputs
    again = build(tmp_path / "docs-b", spec_path=spec, errata_path=errata)
    assert again.name == static_docs.name == "index.html"
    first, second = static_docs.read_bytes(), again.read_bytes()
    assert len(first) > 100_000, "the page is too small to hold the inlined Redoc bundle"
    assert first == second


def test_the_static_page_inlines_redoc_and_loads_nothing_from_a_cdn(static_docs: Path) -> None:
    html = static_docs.read_text(encoding="utf-8")
    tags = _AssetTags()
    tags.feed(html)
    remote = [url for url in tags.urls if re.match(r"^\s*(https?:)?//", url, re.IGNORECASE)]
    assert remote == []
    assert not re.search(r"<(script|link)\b[^>]*\b(src|href)=[\"']?https?:", html, re.IGNORECASE)
    assert any(
        "__redoc_definition" in script and "hydrate(" in script for script in tags.inline_scripts
    )
    # The page itself forbids every network load (Redoc's attribution logo included).
    assert len(tags.csp) == 1
    assert "default-src 'none'" in tags.csp[0]
    assert not re.search(r"https?:", tags.csp[0])


def test_the_static_page_includes_every_errata_entry(
    static_docs: Path, doc_inputs: tuple[Path, Path]
) -> None:
    html = static_docs.read_text(encoding="utf-8")
    errata = doc_inputs[1].read_text(encoding="utf-8")
    entry_ids = re.findall(r"^### `([^`]+)`", errata, re.M)
    assert entry_ids, "docs/errata.md has no entries"
    missing = [entry for entry in entry_ids if entry not in html]
    assert missing == []
    assert '"x-traitTag":true' in html.replace(" ", "")


def test_the_docs_show_each_operations_access_rule_and_the_version_table(
    doc_inputs: tuple[Path, Path],
) -> None:
    """Redoc hides `x-` extensions: the build writes the contract's access rules into each
    operation and the table of Grafana versions onto the Errata page, from openapi.yaml
    alone."""
    raw = yaml.safe_load(doc_inputs[0].read_text(encoding="utf-8"))
    rendered = docs_spec(raw, doc_inputs[1].read_text(encoding="utf-8"))
    rules = contract.parse(raw)
    for operation in rules.operations:
        text = rendered["paths"][operation.path][operation.method.lower()]["description"]
        assert "**Access:**" in text and operation.access.source in text, operation.operation_id
        if operation.access.action:
            assert f"`{operation.access.action}`" in text, operation.operation_id
        for name in operation.differences:
            assert f"`{name}`" in text, (operation.operation_id, name)
    errata = next(tag for tag in rendered["tags"] if tag["name"] == "Errata")["description"]
    assert VERSIONS_MARKER not in errata
    header = next(line for line in errata.splitlines() if line.startswith("| Difference |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    for name, difference in rules.differences.items():
        row = next(line for line in errata.splitlines() if line.startswith(f"| `{name}` |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        for version in rules.versions.names:
            has = cells[columns.index(version)] == "✓"
            assert has == difference.holds_in(version), (name, version, row)
        assert difference.source in row, row


# ---------------------------------------------------------------- the browser


@dataclass
class Tab:
    """A page of a fresh browser context that records the requests it had to block."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _allowed(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOOPBACK_HOSTS


def _screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (skipped where it is not installed, except when
    USERAPI_REQUIRE_BROWSER=1, as CI sets: there a missing browser is a failure)."""
    required = os.environ.get("USERAPI_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        if required:
            pytest.fail("Playwright is required (USERAPI_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Python Playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        if required:
            pytest.fail(
                f"Chromium is required (USERAPI_REQUIRE_BROWSER=1) but {CHROMIUM} is missing"
            )
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def tab(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Tab]:
    """A fresh context and page; its last state is kept as <test name>-end.png."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, reduced_motion="reduce")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    opened = Tab(page)

    def guard(route: Route) -> None:
        if _allowed(route.request.url):
            route.continue_()
        else:
            opened.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    page.route("**/*", guard)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    yield opened
    _screenshot(page, f"{request.node.name}-end")
    context.close()


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    """A fresh in-memory server (admin/admin) on a loopback port."""
    with serve_in_thread(create_test_app()) as url:
        yield url


def _summaries(spec_path: Path) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> summary of every operation in the OpenAPI document."""
    spec: dict[str, Any] = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    return {
        (method.upper(), path): str(operation.get("summary", ""))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    }


def _redoc_tag_operations(page: Page, tag: str) -> dict[tuple[str, str], str]:
    """Open a tag in Redoc's side menu and read its operation list: (METHOD, path) -> href."""
    page.get_by_role("link", name=tag, exact=True).first.click()
    listing = page.locator(f'[data-testid="items-navigation-list"]:has(a[href^="#/{tag}/"])')
    listing.first.wait_for()
    more = listing.first.locator('[data-testid="show-more-operations"]')
    if more.count():
        more.first.click()
    links: list[list[str]] = listing.first.locator(f'a[href^="#/{tag}/"]').evaluate_all(
        "links => links.map(link => [link.getAttribute('href'), link.innerText])"
    )
    found: dict[tuple[str, str], str] = {}
    for href, text in links:
        # "GET\n/api/user", with a third line "Deprecated" on deprecated operations.
        method, path, *_ = [line.strip() for line in text.strip().splitlines()] + ["", ""]
        found[(method.upper(), path)] = href
    return found


def _heading(page: Page, text: str) -> Locator:
    """A heading whose whole text is `text`."""
    whole = re.compile(rf"^\s*{re.escape(text)}\s*$")
    return page.locator("h1, h2, h3, h4").filter(has_text=whole).first


def _operation_heading(page: Page, href: str) -> Locator:
    """Redoc's heading of the operation that `href` links to (it carries a link to itself)."""
    return page.locator("h2").filter(has=page.locator(f'a[href="{href}"]')).first


@pytest.mark.browser
def test_the_static_docs_render_every_user_api_operation_and_the_errata_from_a_file_url(
    tab: Tab, static_docs: Path, doc_inputs: tuple[Path, Path]
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(static_docs.as_uri())
    page.get_by_role("link", name="users", exact=True).first.wait_for()
    spec_path, errata_path = doc_inputs
    summaries = _summaries(spec_path)
    listed: dict[tuple[str, str], str] = {}
    for tag in USER_API_TAGS:
        in_tag = _redoc_tag_operations(page, tag)
        _screenshot(page, f"docs-static-{tag}")
        listed |= in_tag
        # Redoc renders sections lazily: visit each operation through the side menu and
        # wait for its own heading.
        for operation in sorted(USER_API_OPERATIONS & in_tag.keys()):
            href = in_tag[operation]
            page.locator(f'.menu-content a[href="{href}"]').click()
            heading = _operation_heading(page, href)
            expect(heading).to_be_visible(timeout=TIMEOUT_MS)
            expect(heading).to_contain_text(summaries[operation])
    assert sorted(USER_API_OPERATIONS - listed.keys()) == []

    get_user = listed[("GET", "/api/user")]
    page.locator(f'.menu-content a[href="{get_user}"]').click()
    expect(_operation_heading(page, get_user)).to_be_visible(timeout=TIMEOUT_MS)
    _screenshot(page, "docs-static-get-api-user")

    page.locator(".menu-content").get_by_role("link", name="Errata", exact=True).click()
    expect(_heading(page, "Grafana versions")).to_be_visible(timeout=TIMEOUT_MS)
    entry_ids = re.findall(r"^### `([^`]+)`", errata_path.read_text(encoding="utf-8"), re.M)
    assert entry_ids, "docs/errata.md has no entries"
    _screenshot(page, "docs-static-errata")
    for entry in (entry_ids[0], entry_ids[-1]):
        page.locator(".menu-content").get_by_role("link", name=entry, exact=True).click()
        expect(_heading(page, entry)).to_be_visible(timeout=TIMEOUT_MS)
    _screenshot(page, "docs-static-errata-last-entry")

    assert tab.errors == []
    assert tab.blocked == [], "the static page tried to load something from the network"


@pytest.mark.browser
def test_the_live_docs_page_lists_every_user_api_operation(tab: Tab, live_server: str) -> None:
    page = tab.page
    page.goto(f"{live_server}/docs/")
    page.locator(".opblock").first.wait_for()
    rows: list[list[str]] = page.locator(".opblock-summary").evaluate_all(
        """summaries => summaries.map(summary => [
            summary.querySelector('.opblock-summary-method')?.textContent ?? '',
            summary.querySelector('[data-path]')?.getAttribute('data-path') ?? '',
        ])"""
    )
    found = {(method.strip().upper(), path) for method, path in rows}
    assert sorted(USER_API_OPERATIONS - found) == []
    page.locator("#operations-tag-users").evaluate("tag => tag.scrollIntoView()")
    _screenshot(page, "docs-live-operations")
    assert tab.errors == []
    assert tab.blocked == [], "the live docs page tried to load something from the network"


@pytest.mark.browser
def test_try_it_out_on_the_live_docs_page_returns_the_signed_in_admin(
    tab: Tab, live_server: str
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(f"{live_server}/docs/")
    page.locator(".opblock").first.wait_for()

    page.locator(".auth-wrapper button.authorize").click()
    basic = page.locator(".auth-container", has=page.locator("code", has_text="basicAuth"))
    basic.locator('input[aria-label="auth-basic-username"]').fill("admin")
    basic.locator('input[aria-label="auth-basic-password"]').fill("admin")
    basic.get_by_role("button", name="Authorize", exact=True).click()
    basic.get_by_role("button", name="Logout", exact=True).wait_for()
    basic.get_by_role("button", name="Close", exact=True).click()

    operation = page.locator("#operations-signed_in_user-getSignedInUser")
    operation.locator(".opblock-summary-control").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    response = operation.locator(".live-responses-table .response").first
    status_cell = response.locator(".response-col_status")
    expect(status_cell).to_have_text(re.compile(r"^\s*\d{3}"), timeout=TIMEOUT_MS)
    status = status_cell.inner_text().strip()
    body = response.locator(".response-col_description pre").first.inner_text()
    response.scroll_into_view_if_needed()
    _screenshot(page, "docs-live-try-it-out")
    assert status == "200"
    assert "admin" in body
    assert json.loads(body)["login"] == "admin"
    assert tab.blocked == []
