"""The OpenAPI document: JSON at /swagger/doc.json, and the rules the API enforces stated in it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jobs.models import JobStatus


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = Client().get("/swagger/doc.json")
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] in ("application/json", "application/vnd.oai.openapi+json")
    return response.json()


def test_job_configs_reject_unknown_fields_and_state_cross_field_rules(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("JobConfig", "SrcTask", "MySQLConnectionConfig", "TableRule", "SchemaRule"):
        assert schemas[name]["additionalProperties"] is False, name
        assert schemas[name].get("allOf"), name
    assert schemas["TableRule"]["properties"]["table_regex"]["format"] == "regex"
    job_id = schemas["JobId"]["properties"]["job_id"]
    assert job_id["minLength"] == 1 and "pattern" in job_id


def test_statuses_are_the_enums(document: dict[str, Any]) -> None:
    summary = document["components"]["schemas"]["JobSummary"]["properties"]["job_status"]
    ref = summary.get("$ref") or summary["allOf"][0]["$ref"]
    enum = document["components"]["schemas"][ref.rsplit("/", 1)[1]]["enum"]
    assert enum == list(JobStatus.values)


def test_bodies_with_nested_configs_are_documented_as_json(document: dict[str, Any]) -> None:
    create = document["paths"]["/v2/job/migration"]["post"]["requestBody"]["content"]
    assert list(create) == ["application/json"]


def test_the_mysql_routes_state_their_connection_rules(document: dict[str, Any]) -> None:
    (connection,) = document["paths"]["/v2/mysql/schemas"]["get"]["parameters"]
    assert (connection["style"], connection["explode"]) == ("form", True)
    assert {"mysql_host", "mysql_ssl_cert"} <= set(connection["schema"]["properties"])
    assert connection["schema"]["allOf"]


def test_every_token_route_documents_401_and_403(document: dict[str, Any]) -> None:
    missing = [f"{method} {path}" for path, item in document["paths"].items()
               for method, operation in item.items()
               if operation.get("security") and not {"401", "403"} <= set(operation["responses"])]
    assert missing == []
