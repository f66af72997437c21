"""Property-based API checks: schemathesis fuzzes every operation of /openapi.json with a valid key.

It runs against a service of its own (fuzzing creates batches and datasets), bounded in examples.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from aion_pandas.embedded import start_server_process

FUZZ_KEY = "aion_fuzz_tenant_key_0123456789"


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory):
    proc, info = start_server_process(tmp_path_factory.mktemp("fuzz"), demo=True,
                                      api_keys=(FUZZ_KEY, "aion_fuzz_other_key"), detached=False)
    yield info
    proc.terminate()
    proc.wait(timeout=15)


@pytest.fixture(scope="module")
def api_schema(fuzz_service):
    root = fuzz_service["base_url"].rsplit("/api/", 1)[0]
    return schemathesis.openapi.from_url(f"{root}/openapi.json")


def _fuzz(operation, headers: dict[str, str], mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              derandomize=True)
    def run(case):
        case.call_and_validate(headers=headers, checks=[not_a_server_error, status_code_conformance,
                                                        content_type_conformance, response_schema_conformance])

    try:
        run()
    except Unsatisfiable:  # nothing to break (e.g. /healthz has no parameters in negative mode)
        assert mode is GenerationMode.NEGATIVE


def test_api_conforms_to_its_schema(api_schema):
    """Every operation: no 5xx, documented status codes and content types, bodies match the schema."""
    # (a loop rather than schemathesis.pytest.from_fixture, which does not run under pytest 9)
    failures, seen = [], []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        seen.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, {"Authorization": f"Bearer {FUZZ_KEY}"}, mode)
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert len(seen) >= 10, seen
    assert not failures, "\n\n".join(failures)
