"""Oversized bodies, nesting bombs and absurd values answer 400 naming what is wrong."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobs.models import Job
from tests.support.api_examples import MIGRATION_REQUEST

pytestmark = pytest.mark.django_db


def post_raw(client: APIClient, body: bytes, content_type: str) -> Any:
    return client.generic("POST", "/v2/job/migration", body, content_type=content_type)


def test_an_oversized_json_body_answers_400(api_client: APIClient, settings: Any) -> None:
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["job_name"] = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    response = post_raw(api_client, json.dumps(body).encode(), "application/json")
    assert response.status_code == 400
    assert response.json() == {"message": "body: larger than 1048576 bytes (DTLE_MAX_BODY_BYTES)"}
    assert not Job.objects.exists()


def test_an_oversized_form_body_answers_400(api_client: APIClient) -> None:
    response = post_raw(api_client, b"job_id=" + b"x" * 1_100_000,
                        "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["message"].startswith("body: larger than")


def test_deeply_nested_json_answers_400(api_client: APIClient) -> None:
    response = post_raw(api_client, b"[" * 200_000 + b"]" * 200_000, "application/json")
    assert response.status_code == 400
    assert response.json() == {"message": "body: JSON nested too deeply"}


@pytest.mark.parametrize(("change", "field"), [
    ({"chunk_size": 10**12}, "src_task.chunk_size"),
    ({"binlog_pos": -1}, "src_task.binlog_pos"),
    ({"group_timeout": 1e308}, "src_task.group_timeout"),
    ({"replicate_do_db": [{"table_schema": "d", "tables": [
        {"table_name": "t", "column_map_from": ["c"] * 5000}]}]},
     "src_task.replicate_do_db[0].tables[0].column_map_from"),
    ({"replicate_do_db": [{"table_schema": f"d{n}"} for n in range(10_001)]},
     "src_task.replicate_do_db"),
    ({"task_name": "x" * 65}, "src_task.task_name"),
    ({"mysql_connection_config": {**MIGRATION_REQUEST["src_task"]["mysql_connection_config"],
                                  "mysql_port": 70000}},
     "src_task.mysql_connection_config.mysql_port"),
    ({"mysql_connection_config": {**MIGRATION_REQUEST["src_task"]["mysql_connection_config"],
                                  "mysql_character_set": "klingon"}},
     "src_task.mysql_connection_config.mysql_character_set"),
])
def test_absurd_values_answer_400_naming_the_field(api_client: APIClient, change: dict[str, Any],
                                                   field: str) -> None:
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["src_task"].update(change)
    response = api_client.post("/v2/job/migration", {"migration_job_config": body},
                               format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["message"].startswith(f"{field}: ")
    assert not Job.objects.exists()
