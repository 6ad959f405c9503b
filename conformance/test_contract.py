"""Layer 2: every operation with generated data, positive and negative, and all the checks.

One test per operation (`test_operation_conforms_to_openapi_yaml[operationId]`). Path ids
point at the run's throwaway resources, so operations are exercised beyond 404s; see
conformance/guard.py for what keeps fuzzing away from everything else.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from conformance.generated import ContractRun, load_schema
from conformance.options import RunOptions
from conformance.plugin import active_options
from conformance.recorder import Recorder
from conformance.renewal import ActorSession
from conformance.target import Target
from conformance.world import World

schema = load_schema(active_options())


@pytest.fixture(scope="module")
def contract_run(
    target: Target,
    world: World,
    recorder: Recorder,
    conformance_options: RunOptions,
    actor_session: ActorSession,
) -> ContractRun:
    return ContractRun(target, world, recorder, conformance_options, actor_session)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_operation_conforms_to_openapi_yaml(
    case: schemathesis.Case[Any], contract_run: ContractRun, request: pytest.FixtureRequest
) -> None:
    contract_run.run(case, request.node.nodeid)
