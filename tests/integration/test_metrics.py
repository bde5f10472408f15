"""GET /metrics exposes nodes, jobs and running tasks' stats in Prometheus' text format."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.coordination import get_redis
from jobs.models import Allocation, Job, Node, NodeStatus, Task
from replication.stats import StatsStore, TaskStats
from tests.support.redis_urls import REDIS_TEST_URL

pytestmark = pytest.mark.django_db


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def test_metrics_report_nodes_jobs_and_task_stats(settings: Any) -> None:
    settings.REDIS_URL = REDIS_TEST_URL
    Node.objects.create(node_id="n1", node_name="h", queue="node.n1", last_heartbeat=timezone.now())
    Node.objects.create(node_id="n2", node_name="h", queue="node.n2", status=NodeStatus.DOWN,
                        last_heartbeat=timezone.now())
    job = Job.objects.create(job_id="m-migration", job_name="m", job_type="migration", config={},
                             status="running")
    task = Task.objects.create(job=job, task_name="dest", kind="dest")
    allocation = Allocation.objects.create(task=task, node_id="n1")
    task.current_allocation = allocation
    task.save()
    stats = TaskStats(exec_master_row_count=1234, exec_master_tx_count=7, backlog="3/32",
                      read_master_row_count=2000)
    stats.delay_count.time = 2
    StatsStore(get_redis()).publish(str(allocation.allocation_id), stats, force=True)

    response = Client().get("/metrics")
    assert response.status_code == 200
    samples = _samples(response.content.decode())
    labels = (("allocation_id", str(allocation.allocation_id)), ("job_id", "m-migration"),
              ("task_name", "dest"))
    assert samples[("dtle_node_up", (("datacenter", "dc1"), ("node_id", "n1")))] == 1
    assert samples[("dtle_node_up", (("datacenter", "dc1"), ("node_id", "n2")))] == 0
    assert samples[("dtle_job_status", (("job_id", "m-migration"), ("job_type", "migration"),
                                        ("status", "running")))] == 1
    assert samples[("dtle_task_rows", labels)] == 1234
    assert samples[("dtle_task_delay_seconds", labels)] == 2
    assert samples[("dtle_task_transactions", labels)] == 7
    assert samples[("dtle_task_backlog_messages", labels)] == 3
    assert samples[("dtle_task_full_copy_progress_ratio", labels)] == pytest.approx(0.617)
    # dtle's own gauge names, for dashboards made for dtle
    assert samples[("dtle_delay_time", labels)] == 2
    assert samples[("dtle_dest_applied_incr_tx_count", labels)] == 7
    assert ("dtle_src_extracted_incr_tx_count", labels) not in samples  # a dest task
    assert samples[("dtle_network_in_msgs", labels)] == 0
    get_redis().delete(f"dtle:stats:{allocation.allocation_id}")


def test_the_grafana_dashboard_queries_only_exported_metrics(settings: Any) -> None:
    settings.REDIS_URL = REDIS_TEST_URL
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docker" /
                            "grafana-dashboard.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\bdtle_[a-z0-9_]+", target["expr"])}
    exported = {family.name for family in text_string_to_metric_families(
        Client().get("/metrics").content.decode())}
    assert len(queried) >= 8
    assert queried - exported == set()
