"""Property-based fuzzing of every documented operation, generated from /openapi.json.

Authenticated with a real key, against the real database, with both valid and invalid
data. A case fails on any 5xx, or on a response that does not match the documented
status codes, headers and schemas.
"""

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, openapi
from schemathesis.checks import positive_data_acceptance, response_headers_conformance

EXAMPLES_PER_OPERATION = 15
NOT_FAILURES = [
    # Valid-looking data may still be refused by the domain (an order for a customer
    # who does not exist, an unsigned receipt).
    positive_data_acceptance,
    # X-Pagination is JSON; the checker reads object-typed headers as "key,value" pairs.
    response_headers_conformance,
]


@pytest.fixture(name="settings")
def unthrottled(settings):
    # Each case is also sent without a key, expecting 401: more than the throttle lets
    # through in a minute (past it, failing attempts get 429, tested in test_security).
    return replace(settings, auth_failures_per_minute=1_000_000)


def test_no_operation_fails_or_breaks_its_contract(app, api_key):
    schema = openapi.from_wsgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {api_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    cases = 0

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def check(case):
                nonlocal cases
                cases += 1
                case.call_and_validate(headers=headers, excluded_checks=NOT_FAILURES)

            check()

    assert len(operations) >= 30 and cases > len(operations) * 10
