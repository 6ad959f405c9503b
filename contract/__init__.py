"""openapi.yaml as data: the one reader that the server, the suite, the stub generator, the
docs build and the tests share.

It imports neither connexion nor schemathesis, so the conformance suite can use it without
importing the server. Grafana's rules are read from the contract's extensions:

* `x-grafana-access` on every operation: who may call it (see `Access`);
* `x-grafana-versions` at the top: the Grafana releases the contract describes, oldest
  first (`load(version=...)` gives the contract as one of them answers it);
* `x-grafana-differences` at the top (each behaviour some releases have, once: which
  releases, what they answer, what a conformance run accepting it relaxes, the Grafana
  source) and on operations (the names that show there);
* `x-grafana-server-errors` on operations: 5xx answers every release gives by design, each
  with the situation (`when`);
* `x-grafana-semantic-statuses` on operations: statuses a request the schema accepts may
  still get (the server refuses it on grounds the schema cannot state);
* `x-grafana-invalid` on parameters: Grafana's 400 message for a value it cannot use;
* `x-grafana-lenient` on query parameters: Grafana ignores a value that is no integer;
* `x-grafana-thin-profile` on operations: the profile answered leaves the derived fields
  (uid, avatarUrl) empty;
* `x-grafana-org-selection` at the top: how a request picks its organization per request
  (`X-Grafana-Org-Id`), and the answer to a token asking for another organization;
* `links` of a POST's 2xx response: which response field holds the id the call created.
"""

from contract.model import (
    ANONYMOUS,
    GRAFANA_ADMIN,
    ORG_ROLE,
    ORG_ROLES,
    SIGNED_IN,
    USER,
    Access,
    Answer,
    Contract,
    Difference,
    GrafanaRelease,
    Operation,
    OrgSelection,
    Refusal,
    Relaxation,
    Versions,
    release,
)
from contract.reader import HTTP_METHODS, SPEC_PATH, document, load, parse, resolve_ref, spec_text

__all__ = [
    "ANONYMOUS",
    "GRAFANA_ADMIN",
    "HTTP_METHODS",
    "ORG_ROLE",
    "ORG_ROLES",
    "SIGNED_IN",
    "SPEC_PATH",
    "USER",
    "Access",
    "Contract",
    "Operation",
    "OrgSelection",
    "Answer",
    "Difference",
    "GrafanaRelease",
    "Refusal",
    "Relaxation",
    "Versions",
    "release",
    "document",
    "load",
    "parse",
    "resolve_ref",
    "spec_text",
]
