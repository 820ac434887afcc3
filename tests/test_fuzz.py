"""A bounded schemathesis run against the app's own OpenAPI document: every route, with
the API key so writes are exercised too; no 5xx, and every response matches its schema."""

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from retrieval.embedding.encoders import HashingEncoder
from retrieval.engine import Engine
from service.app import ServiceConfig, create_app

from .conftest import engine_config

KEY = "fuzz-key"


@pytest.fixture(scope="module")
def api_schema(indexed_project, tmp_path_factory):
    project = shutil.copytree(indexed_project, tmp_path_factory.mktemp("fuzz") / "project")
    engine = Engine(engine_config(project), encoder=HashingEncoder(64))
    engine.load()
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(engine, ServiceConfig(api_key=KEY)))


def test_the_api_survives_schema_fuzzing(api_schema):
    # One Hypothesis run per operation, driven here: schemathesis's own pytest plugin does
    # not run under pytest 9.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def survives(case):
            case.call_and_validate(headers={"X-API-Key": KEY}, checks=[not_a_server_error, response_schema_conformance])

        survives()
