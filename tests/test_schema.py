"""The live contract: schemathesis fuzzes every route of the OpenAPI document
against the app (ASGI, in process) with an admin token configured, running all
default checks (server errors, status codes, content types, response schemas and
headers, negative data rejected, positive data accepted, ignored auth, …).

Bounded: a few examples per operation, no shrinking, so it stays within minutes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings as hsettings

from api.app import create_app

TOKEN = "fuzz-token"


@pytest.fixture(scope="module")
def api_schema(settings, assistant):
    # rate limit off: the fuzzer is one client sending thousands of requests
    app = create_app(replace(settings, admin_token=TOKEN, rate_limit="off", admin_max_failures=10**6),
                     assistant=assistant)
    config = schemathesis.config.SchemathesisConfig.from_dict({
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        # A question of only punctuation or symbols is refused with 422 ("问题只有标点或符号"):
        # "has a letter or digit of any script" cannot be said in JSON Schema, so valid-looking
        # data may be refused with that documented 422.
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "409", "422", "503"]}},
    })
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hsettings(max_examples=15, deadline=None, phases=[Phase.explicit, Phase.generate],
           suppress_health_check=list(HealthCheck))
def test_api_contract(case):
    case.call_and_validate()
