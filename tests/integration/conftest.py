"""Fixtures of the end-to-end tests: a running deployment per module, jobs cleaned up after
each test. A module names its worker nodes in ``NODES`` (default two) and asks for
``jobs_deleted_afterwards`` through ``pytestmark``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from scripts.cluster import Cluster, wait_for
from tests.support.e2e import ready_nodes
from tests.support.redis_urls import E2E_REDIS_URL

DEFAULT_NODES = ("node-a", "node-b")


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The API, beat and the module's worker nodes on a flushed Redis database, all ready."""
    nodes = tuple(getattr(request.module, "NODES", DEFAULT_NODES))
    redis.Redis.from_url(E2E_REDIS_URL).flushdb()
    running = Cluster(tmp_path_factory.mktemp("cluster"), E2E_REDIS_URL).start()
    try:
        for node in nodes:
            running.start_worker(node, node_id=node)
        wait_for(lambda: ready_nodes(running) >= set(nodes), 90, f"nodes {nodes} ready")
        yield running
    finally:
        running.stop()


@pytest.fixture
def jobs_deleted_afterwards(cluster: Cluster) -> Iterator[None]:
    """Each test's jobs are deleted after it, so they do not take the next test's slots."""
    yield
    for job in cluster.get("/v2/jobs")["jobs"]:
        cluster.request("POST", "/v2/job/delete", form={"job_id": job["job_id"]})
