"""Property-based fuzzing of the gateway from its own OpenAPI schema (schemathesis), against the real
local stack: no 5xx and no response that breaks the schema, over at least 1,000 generated requests."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 300
MIN_REQUESTS = 1000


def test_generated_requests_get_no_5xx_and_schema_conformant_answers(stack):
    schema = schemathesis.openapi.from_url(f"{stack.gateway_url}/openapi.json")
    sent: list[int] = []

    def fuzz(operation, session: requests.Session):
        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(base_url=stack.gateway_url, session=session, timeout=30)
            sent.append(response.status_code)
            # Raises (and Hypothesis shrinks to a minimal reproducer) on any 5xx or off-schema answer.
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance, status_code_conformance]
            )

        run()

    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path != "/ready":  # its 503 reflects upstream state by design (platform tests)
                fuzz(operation, session)
    assert len(sent) >= MIN_REQUESTS, f"only {len(sent)} requests generated"
