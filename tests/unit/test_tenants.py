"""Tenants see and change only their own jobs; platform sees all; roles limit what users do."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobs.models import Allocation, Job, Task
from tests.support.api_examples import MIGRATION_REQUEST
from tests.support.auth import client_for, make_user

pytestmark = pytest.mark.django_db


def create(client: APIClient, name: str, password: str = "test") -> Any:
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["job_name"] = name
    body["src_task"]["mysql_connection_config"]["mysql_password"] = password
    return client.post("/v2/job/migration", {"migration_job_config": body}, format="json")


@pytest.fixture
def acme() -> APIClient:
    return client_for(make_user("alice", tenant="acme"))


@pytest.fixture
def globex() -> APIClient:
    return client_for(make_user("bob", tenant="globex"))


@pytest.fixture
def acme_job(acme: APIClient) -> str:
    response = create(acme, "acmejob")
    assert response.status_code == 200, response.json()
    return str(response.json()["job"]["job_id"])


def ids(client: APIClient, route: str = "/v2/jobs") -> list[str]:
    response = client.get(route)
    assert response.status_code == 200, response.json()
    return [job["job_id"] for job in response.json()["jobs"]]


def test_a_job_belongs_to_the_tenant_that_created_it(acme_job: str) -> None:
    assert Job.objects.get(job_id=acme_job).tenant == "acme"


def test_the_list_shows_a_tenant_only_its_jobs(acme: APIClient, globex: APIClient,
                                               acme_job: str, api_client: APIClient) -> None:
    assert create(globex, "globexjob").status_code == 200
    assert ids(acme) == [acme_job]
    assert ids(acme, "/v2/jobs/migration") == [acme_job]
    assert ids(globex) == ["globexjob-migration"]
    assert ids(api_client) == [acme_job, "globexjob-migration"]


@pytest.mark.parametrize(("method", "route"), [
    ("get", "/v2/job/migration/detail"), ("get", "/v2/job/gtid"),
    ("post", "/v2/job/pause"), ("post", "/v2/job/resume"), ("post", "/v2/job/delete"),
    ("post", "/v2/job/migration/pause"), ("post", "/v2/job/migration/resume"),
    ("post", "/v2/job/migration/delete"),
])
def test_another_tenants_job_answers_404(globex: APIClient, acme_job: str, method: str,
                                         route: str) -> None:
    before = Job.objects.get(job_id=acme_job)
    response = getattr(globex, method)(route, {"job_id": acme_job})
    assert response.status_code == 404, response.json()
    assert response.json() == {"message": f"job {acme_job} does not exist"}
    after = Job.objects.get(job_id=acme_job)
    assert (after.desired_state, after.status, after.version) == (
        before.desired_state, before.status, before.version)


def test_another_tenants_allocation_answers_404_on_monitor(globex: APIClient,
                                                           acme_job: str) -> None:
    allocation = Allocation.objects.create(task=Task.objects.get(job_id=acme_job, kind="src"))
    response = globex.get("/v2/monitor/task", {"allocation_id": str(allocation.allocation_id)})
    assert response.status_code == 404
    assert "does not exist" in response.json()["message"]


@pytest.mark.parametrize("route", ["/v2/job/migration", "/v2/job/migration/update",
                                   "/v2/job/migration/create"])
def test_another_tenant_cannot_update_a_job(globex: APIClient, acme_job: str, route: str) -> None:
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["job_name"] = "acmejob"
    body["src_task"]["chunk_size"] = 7
    response = globex.post(route, {"migration_job_config": body}, format="json")
    assert response.status_code == 409
    assert response.json()["message"] == (
        f"job id {acme_job} is taken; choose another job_id or job_name")
    job = Job.objects.get(job_id=acme_job)
    assert (job.tenant, job.version, job.config["src_task"]["chunk_size"]) == ("acme", 1, 2000)


def test_the_owner_and_platform_change_the_job(acme: APIClient, api_client: APIClient,
                                               acme_job: str) -> None:
    assert acme.post("/v2/job/pause", {"job_id": acme_job}).status_code == 200
    assert api_client.post("/v2/job/resume", {"job_id": acme_job}).status_code == 200
    assert acme.get("/v2/job/migration/detail", {"job_id": acme_job}).status_code == 200
    assert create(api_client, "acmejob").status_code == 200  # platform updates it in place
    assert Job.objects.get(job_id=acme_job).tenant == "acme"
    assert acme.post("/v2/job/delete", {"job_id": acme_job}).status_code == 200
    assert not Job.objects.filter(job_id=acme_job).exists()


def test_a_viewer_reads_but_changes_nothing(acme_job: str) -> None:
    viewer = client_for(make_user("carol", tenant="acme", role="viewer"))
    assert ids(viewer) == [acme_job]
    for route in ("/v2/job/pause", "/v2/job/delete"):
        response = viewer.post(route, {"job_id": acme_job})
        assert response.status_code == 403
        assert response.json() == {"message": "your role does not allow this"}
    assert create(viewer, "viewerjob").status_code == 403
    assert Job.objects.get(job_id=acme_job).desired_state == "running"


def test_a_user_without_a_role_or_tenant_gets_nothing(acme_job: str) -> None:
    roleless = make_user("dave", tenant="acme")
    roleless.groups.clear()
    assert client_for(roleless).get("/v2/jobs").status_code == 403


def test_only_the_platform_tenant_changes_the_log_level(acme: APIClient, settings: Any) -> None:
    response = acme.post("/v2/log/level", {"dtle_log_level": "DEBUG"})
    assert response.status_code == 403
