"""Nodes, Swagger and the admin pages."""

from __future__ import annotations

import copy
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.models import Job, Node
from tests.support.api_examples import (
    MIGRATION_REQUEST,
    NODES_ANSWER,
    assert_same_shape,
)

pytestmark = pytest.mark.django_db


def test_nodes_are_shaped_as_the_document(api_client: APIClient) -> None:
    Node.objects.create(node_id="37dc2ff4", node_name="dtle-dest-1", node_address="10.186.63.86",
                        queue="node.37dc2ff4", last_heartbeat=timezone.now())
    body = api_client.get("/v2/nodes").json()
    assert_same_shape(body, NODES_ANSWER)
    assert body["nodes"][0]["node_status"] == "ready"


def v2_routes() -> list[str]:
    resolver = get_resolver()
    routes = []
    for pattern in resolver.url_patterns:
        if str(pattern.pattern) == "v2/":
            for child in pattern.url_patterns:
                assert isinstance(child, URLPattern)
                routes.append(f"/v2/{child.pattern}")
    return routes


def test_swagger_ui_and_schema_list_every_route() -> None:
    client = Client()
    page = client.get("/swagger/index.html")
    assert page.status_code == 200 and b"swagger" in page.content.lower()
    schema = client.get("/swagger/doc.json", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    routes = v2_routes()
    assert len(routes) >= 36
    assert [route for route in routes if route not in paths] == []
    create = paths["/v2/job/migration"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "MigrationJobRequest")


def test_swagger_ui_assets_are_served_without_a_web_server() -> None:
    client = Client()
    page = client.get("/swagger/index.html").content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        response = client.get(asset)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200 and len(body) > 100, asset


def test_browsable_api_renders_html(api_client: APIClient) -> None:
    page = api_client.get("/v2/nodes", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"<html" in page.content.lower()


def test_admin_shows_jobs_with_masked_passwords(api_client: APIClient) -> None:
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["src_task"]["mysql_connection_config"]["mysql_password"] = "hunter2-plain"
    api_client.post("/v2/job/migration", {"migration_job_config": body}, format="json")
    User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.login(username="root", password="pw")
    page = client.get("/admin/jobs/job/job1-migration/change/")
    assert page.status_code == 200
    assert b"hunter2-plain" not in page.content
    assert b"&quot;mysql_password&quot;: &quot;*&quot;" in page.content
    assert client.get("/admin/jobs/job/add/").status_code == 403
    assert Job.objects.count() == 1
