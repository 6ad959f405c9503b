"""The conformance suite's clean-up survives what a target accepted.

A target may accept a dashboard uid that cannot stand in a URL path as it is (a control
character, a slash); removing it at the end of the run must escape it and, whatever
happens, report a problem instead of crashing the whole run (this happened: the fuzzer
created a uid holding U+0002 on a server that took it).
"""

from __future__ import annotations

import contract
from conformance.options import RunOptions
from conformance.recorder import Recorder
from conformance.seeding import Seeder
from conformance.target import Target


def _target() -> Target:
    options = RunOptions(
        base_url=None,
        app="handlers.app:create_test_app",
        admin_auth=("admin", "admin"),
        tolerances=frozenset(),
        grafana_version=None,
        profile="ci",
        seed=1,
        fail_on_unobserved=False,
        report_dir=None,
        spec_path=contract.SPEC_PATH,
        operations=frozenset(),
        max_requests=100,
        request_timeout=10.0,
    )
    return Target(options, Recorder(contract=contract.load(), max_requests=100))


def test_dashboard_uids_are_escaped_in_the_clean_up_paths() -> None:
    target = _target()
    seeder = Seeder(target, "cnf-test-")
    seeder.ledger.dashboards += ["ctl\x02", "a/b", "sp ace"]
    with target.session(target.admin) as admin:
        saved = admin.post("/api/dashboards/db", json={"dashboard": {"title": "Kept?"}})
    seeder.ledger.dashboards.append(saved.json()["uid"])
    # None of the odd ones exists (404 is fine); the real one is deleted.
    assert seeder.cleanup(None) == []
    with target.session(target.admin) as admin:
        again = admin.delete(f"/api/dashboards/uid/{saved.json()['uid']}")
    assert (again.status_code, again.json()["message"]) == (404, "Dashboard not found")
