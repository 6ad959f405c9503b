"""Contract tests: openapi.yaml is valid, loadable, self-consistent and explained."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from typing import Any

import connexion
import pytest
import yaml
from connexion.exceptions import InvalidSpecification
from openapi_spec_validator import OpenAPIV30SpecValidator

from handlers import spec_check
from handlers.app import load_spec as load_app_spec
from tests.spec_grafana_diff import differences, load_grafana_subset
from tests.spec_support import (
    ERRATA_MD_PATH,
    ERRATA_YAML_PATH,
    GRAFANA_SUBSET_PATH,
    REPO_ROOT,
    SPEC_PATH,
    Json,
    example_errors,
    follow,
    iter_examples,
    iter_operations,
    load_spec,
)
from tests.support.documented import DOCUMENTED_OPERATIONS

INT64_MAX = 9223372036854775807


KNOWN_TOLERANCES = {
    "create-response-without-uid",
    "delete-active-org-message",
    "delete-negative-org-500",
    "lookup-empty-uid",
    "non-user-endpoint-403",
    "non-user-profile-403",
    "old-password-401",
    "org-user-uid-in-paths",
    "password-unknown-user-message",
    "permissions-rbac-denial",
    "permissions-unknown-user-200",
    "short-password-500",
    "star-by-id-removed",
    "team-delete-not-found-message",
    "team-without-provisioning-fields",
    "update-conflict-500",
    "user-uid-in-paths",
}

# Tags whose operations need server-admin rights, so they must document 403.
ADMIN_TAGS = {"users", "admin_users"}

# Non-2xx responses that legitimately do not carry the error body.
ERROR_SCHEMA_EXEMPTIONS = {
    # Grafana answers a failing health check with the health body itself.
    ("getHealth", "503"),
}


@pytest.fixture(scope="module")
def spec() -> Json:
    return load_spec()


@pytest.fixture(scope="module")
def errata() -> list[Json]:
    entries: list[Json] = yaml.safe_load(ERRATA_YAML_PATH.read_text(encoding="utf-8"))["errata"]
    return entries


def _refers_to(spec: Json, schema: Any, target: str, depth: int = 0) -> bool:
    """Whether `schema` is, or is built (allOf/anyOf/oneOf) from, the component `target`."""
    if not isinstance(schema, dict) or depth > 10:
        return False
    if schema.get("$ref") == f"#/components/schemas/{target}":
        return True
    resolved = follow(spec, schema)
    branches = [*resolved.get("allOf", []), *resolved.get("anyOf", []), *resolved.get("oneOf", [])]
    if resolved.get("anyOf") or resolved.get("oneOf"):
        return all(_refers_to(spec, b, target, depth + 1) for b in branches)
    return any(_refers_to(spec, b, target, depth + 1) for b in branches)


def _parameters(spec: Json, path: str, operation: Json) -> list[Json]:
    path_level = spec["paths"][path].get("parameters", [])
    return [follow(spec, p) for p in [*path_level, *operation.get("parameters", [])]]


def _tolerances(spec: Json) -> dict[str, set[str]]:
    """Version difference name -> operationIds naming it."""
    found: dict[str, set[str]] = {}
    for _, _, operation in iter_operations(spec):
        for name in operation.get("x-grafana-differences", []):
            found.setdefault(name, set()).add(operation["operationId"])
    return found


# --------------------------------------------------------------- validity and loading


def test_the_spec_is_openapi_3_0_3_because_connexion_refuses_3_1(spec: Json) -> None:
    assert spec["openapi"] == "3.0.3"


def test_the_spec_passes_openapi_spec_validator(spec: Json) -> None:
    errors = [str(error) for error in OpenAPIV30SpecValidator(spec).iter_errors()]
    assert errors == []


def test_connexion_loads_the_spec_and_routes_to_unbound_handlers_with_501(spec: Json) -> None:
    app = connexion.AsyncApp(__name__)
    app.add_api(copy.deepcopy(spec), resolver_error=501)
    with app.test_client() as client:
        assert client.get("/api/health").status_code == 501
        # A path the spec does not describe is not routed at all.
        assert client.get("/api/no-such-thing").status_code == 404


def test_the_recorded_digest_is_of_this_spec_which_passes_connexions_own_check() -> None:
    """Servers skip connexion's start-up validation only for the recorded text: that text
    must be the current openapi.yaml, and it must pass connexion's check (done here)."""
    text = SPEC_PATH.read_text(encoding="utf-8")
    spec_check.connexion_check(load_app_spec())
    assert spec_check.recorded() == spec_check.digest(text), (
        "openapi.yaml changed since its digest was recorded: run `make spec-digest`"
    )


def test_a_spec_other_than_the_recorded_one_is_still_validated_at_start() -> None:
    broken = load_app_spec()
    broken["paths"]["/api/user"]["get"]["responses"] = "not a mapping"
    with spec_check.checked_already("another text") as skipped:
        assert skipped is False
        app = connexion.AsyncApp(__name__)
        with pytest.raises(InvalidSpecification):
            app.add_api(broken)
    with spec_check.checked_already(SPEC_PATH.read_text(encoding="utf-8")) as skipped:
        assert skipped is True
    # Once the block is left, connexion validates again.
    with pytest.raises(InvalidSpecification):
        connexion.AsyncApp(__name__).add_api(copy.deepcopy(broken))


def test_the_spec_carries_no_python_binding_names() -> None:
    text = SPEC_PATH.read_text(encoding="utf-8")
    assert not re.search(r"x-\w*InfoFunc|handlers\.|\w+\.py\b", text)


# ------------------------------------------------------------------------ examples


def test_every_example_in_the_spec_matches_its_schema(spec: Json) -> None:
    examples = list(iter_examples(spec))
    assert len(examples) > 100, "the example walker lost track of the spec's examples"
    failures = {
        example.where: errors
        for example in examples
        if (errors := example_errors(spec, example.schema, example.value))
    }
    assert failures == {}


def test_the_example_check_rejects_the_docs_pages_uncorrected_user_example(spec: Json) -> None:
    docs_original = {
        "id": "1",
        "email": "user@mygraf.com",
        "name": "admin",
        "login": "admin",
        "theme": "light",
        "orgId": 1,
        "isGrafanaAdmin": True,
        "isDisabled": True,
        "isExternal": False,
        "authLabels": [],
        "updatedAt": "2019-09-09T11:31:26+01:00",
        "createdAt": "2019-09-09T11:31:26+01:00",
        "avatarUrl": "",
    }
    errors = example_errors(spec, {"$ref": "#/components/schemas/UserProfile"}, docs_original)
    assert any(error.startswith("id: '1' is not of type 'integer'") for error in errors)
    assert any("'uid' is a required property" in error for error in errors)


def test_the_example_scan_finds_a_wrong_example_planted_in_the_spec(spec: Json) -> None:
    broken = copy.deepcopy(spec)
    response = broken["paths"]["/api/dashboards/db"]["post"]["responses"]["200"]
    response["content"]["application/json"]["example"]["id"] = "1"
    response["content"]["application/json"]["example"]["url"] = None
    failures = {
        example.where: errors
        for example in iter_examples(broken)
        if (errors := example_errors(broken, example.schema, example.value))
    }
    assert list(failures) == [
        "#/paths/~1api~1dashboards~1db/post/responses/200/content/application~1json/example"
    ]
    (errors,) = failures.values()
    assert {error.split(":")[0] for error in errors} == {"id", "url"}


def test_the_example_check_enforces_date_time_formats(spec: Json) -> None:
    schema = {"type": "string", "format": "date-time"}
    assert example_errors(spec, schema, "2019-09-09T11:31:26+01:00") == []
    assert example_errors(spec, schema, "9 Sept 2019") != []


# ---------------------------------------------------------------------- operations


def test_the_seventeen_documented_operations_are_all_present(spec: Json) -> None:
    present = {(method, path) for method, path, _ in iter_operations(spec)}
    assert DOCUMENTED_OPERATIONS - present == set()


def test_every_operation_has_an_operation_id_tags_summary_and_description(spec: Json) -> None:
    incomplete = [
        f"{method} {path}: {field}"
        for method, path, operation in iter_operations(spec)
        for field in ("operationId", "tags", "summary", "description")
        if not operation.get(field)
    ]
    assert incomplete == []


def test_operation_ids_are_unique(spec: Json) -> None:
    ids = [operation["operationId"] for _, _, operation in iter_operations(spec)]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_every_error_response_uses_the_shared_error_schema(spec: Json) -> None:
    wrong = []
    for method, path, operation in iter_operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith("2") or (operation["operationId"], status) in (
                ERROR_SCHEMA_EXEMPTIONS
            ):
                continue
            content = follow(spec, response).get("content")
            if status.startswith("3"):
                if content:
                    wrong.append(f"{method} {path} {status}: a redirect or 304 has no body")
                continue
            schema = (content or {}).get("application/json", {}).get("schema")
            if set(content or {}) != {"application/json"} or not _refers_to(
                spec, schema, "ErrorResponse"
            ):
                wrong.append(f"{method} {path} {status}")
    assert wrong == []


def test_every_operation_documents_the_cross_cutting_statuses(spec: Json) -> None:
    missing = []
    for method, path, operation in iter_operations(spec):
        statuses = set(operation["responses"])
        secured = operation.get("security", spec["security"]) != []
        has_id = any(
            p["in"] == "path" and p["schema"].get("type") == "integer"
            for p in _parameters(spec, path, operation)
        )
        wanted = {"500"}
        wanted |= {"401"} if secured else set()
        wanted |= {"403"} if ADMIN_TAGS & set(operation["tags"]) else set()
        wanted |= {"400"} if "requestBody" in operation or has_id else set()
        wanted |= {"404"} if "{" in path else set()
        missing += [f"{method} {path}: {s}" for s in sorted(wanted - statuses)]
        missing += [f"{method} {path}: documents {s}" for s in {"405", "415"} & statuses]
    assert missing == []


def test_login_and_health_need_no_credentials_and_everything_else_does(spec: Json) -> None:
    assert spec["security"] == [{"basicAuth": []}, {"bearerAuth": []}, {"cookieAuth": []}]
    public = {op["operationId"] for _, _, op in iter_operations(spec) if op.get("security") == []}
    assert public == {"getLoginPage", "login", "logout", "getHealth"}


# Grafana's handlers read every path id with strconv.ParseInt, so any signed 64-bit
# integer parses (a negative one names nothing); the server binds them as text and parses
# them the same way (handlers/versions.py).
def test_every_integer_path_id_is_a_signed_int64(spec: Json) -> None:
    loose = [
        f"{method} {path}: {p['name']}"
        for method, path, operation in iter_operations(spec)
        for p in _parameters(spec, path, operation)
        if p["in"] == "path"
        and p["schema"].get("type") == "integer"
        and (p["schema"].get("format"), p["schema"].get("minimum"), p["schema"].get("maximum"))
        != ("int64", -INT64_MAX - 1, INT64_MAX)
    ]
    assert loose == []


def test_every_link_names_an_existing_operation_and_its_parameters(spec: Json) -> None:
    operations = {op["operationId"]: (path, op) for _, path, op in iter_operations(spec)}
    broken = []
    for _, _, operation in iter_operations(spec):
        for response in operation["responses"].values():
            for name, link in follow(spec, response).get("links", {}).items():
                target = operations.get(link["operationId"])
                if target is None:
                    broken.append(f"{name}: no operation {link['operationId']}")
                    continue
                known = {p["name"] for p in _parameters(spec, *target)}
                broken += [f"{name}: {p}" for p in link.get("parameters", {}) if p not in known]
                if "requestBody" in link and "requestBody" not in target[1]:
                    broken.append(f"{name}: {link['operationId']} takes no body")
    assert broken == []


def test_version_differences_are_defined_once_with_their_releases_and_grafana_source(
    spec: Json,
) -> None:
    defined = spec["x-grafana-differences"]
    assert set(defined) == KNOWN_TOLERANCES
    assert set(_tolerances(spec)) == KNOWN_TOLERANCES, "a difference no operation names"
    releases = [r["version"] for r in spec["x-grafana-versions"]["releases"]]
    for name, difference in defined.items():
        assert difference.get("description"), name
        assert difference.get("source", "").strip(), name
        assert set(difference["versions"].values()) <= set(releases), name


# -------------------------------------------------------------------------- errata


def test_every_errata_entry_is_complete_and_appears_in_errata_md(errata: list[Json]) -> None:
    prose = ERRATA_MD_PATH.read_text(encoding="utf-8")
    ids = [entry["id"] for entry in errata]
    assert len(ids) == len(set(ids)), "errata ids must be unique"
    for entry in errata:
        for field in ("id", "concerns", "what", "grafana_source", "spec_handling", "explains"):
            assert field in entry, f"{entry.get('id')}: no {field}"
        assert set(entry["concerns"]) <= {"docs-page", "grafana-spec"}
        assert isinstance(entry["explains"], list), f"{entry['id']}: explains must be a list"
        assert all(source.startswith("pkg/") for source in entry["grafana_source"])
        assert f"`{entry['id']}`" in prose, f"{entry['id']} is missing from docs/errata.md"


def test_every_version_difference_the_errata_name_is_defined_in_the_spec(
    spec: Json, errata: list[Json]
) -> None:
    in_errata = {entry["tolerance"] for entry in errata if entry.get("tolerance")}
    assert in_errata and in_errata <= set(_tolerances(spec))


def test_every_difference_from_grafanas_own_spec_is_explained_in_the_errata(
    spec: Json, errata: list[Json]
) -> None:
    if not GRAFANA_SUBSET_PATH.exists():
        pytest.skip(f"Grafana's spec subset is not beside the clone ({GRAFANA_SUBSET_PATH.name})")
    found = differences(spec, load_grafana_subset())
    explained = [key for entry in errata for key in entry.get("explains") or []]
    assert len(explained) == len(set(explained)), "a difference is explained twice"
    unexplained = {key: found[key] for key in sorted(found.keys() - set(explained))}
    stale = sorted(set(explained) - found.keys())
    assert unexplained == {}, "add these to docs/errata.yaml (and docs/errata.md)"
    assert stale == [], "these keys in docs/errata.yaml are no longer differences"


# ------------------------------------------------------------------------- redocly


def test_redocly_lint_reports_no_errors() -> None:
    redocly = REPO_ROOT / "node_modules" / ".bin" / "redocly"
    if not redocly.exists():
        pytest.fail("node_modules/.bin/redocly is missing: run make install (it runs npm ci)")
    assert shutil.which("node"), "Node.js is needed to run redocly"
    result = subprocess.run(
        [str(redocly), "lint", "openapi.yaml", "--format=summary"],
        cwd=REPO_ROOT,
        env={**os.environ, "REDOCLY_TELEMETRY": "off", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not re.search(r"^error ", output, re.MULTILINE), output
