"""Prometheus metrics at ``/metrics``: nodes, jobs and each running task's stats record.

Read on every scrape from the store and Redis (the same records ``/v2/monitor/task`` serves),
so any API process can answer and nothing has to be pushed. Besides the project's own
``dtle_task_*`` gauges, the gauges dtle itself exports carry dtle's names (``dtle_network_*``,
``dtle_buffer_*``, ``dtle_delay_time``, ``dtle_src_extracted_incr_tx_count``,
``dtle_dest_applied_incr_tx_count``), so dashboards built for dtle keep working; dtle's one
``task_name="<job>_<task>"`` label is split here into ``job_id`` and ``task_name``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jobs.coordination import get_redis
from jobs.models import Job, Node, NodeStatus, Task
from replication.stats import StatsStore

_TASK_GAUGES = (
    ("delay_seconds", "Seconds between now and the source time of the last event handled",
     lambda r: r["delay_count"]["time"]),
    ("backlog_messages", "Messages sent by the src and not yet applied by the dest",
     lambda r: int(str(r["backlog"]).split("/")[0] or 0)),
    ("rows", "Rows applied (dest) or read (src), full copy and binlog",
     lambda r: r["exec_master_row_count"]),
    ("transactions", "Source transactions applied (dest) or read (src)",
     lambda r: r["exec_master_tx_count"]),
    ("full_copy_progress_ratio", "Full-copy progress from 0 to 1",
     lambda r: float(r["progress_PCT"]) / 100),
)


# dtle's gauge names (its go-metrics prefix "dtle"), the task kinds that report each, the value.
_DTLE_GAUGES = (
    ("dtle_network_in_msgs", ("src", "dest"), lambda r: r["nats_message_status"]["in_messages"]),
    ("dtle_network_out_msgs", ("src", "dest"), lambda r: r["nats_message_status"]["out_messages"]),
    ("dtle_network_in_bytes", ("src", "dest"), lambda r: r["nats_message_status"]["in_bytes"]),
    ("dtle_network_out_bytes", ("src", "dest"), lambda r: r["nats_message_status"]["out_bytes"]),
    ("dtle_buffer_event_queue_size", ("src",),
     lambda r: r["buffer_status"]["binlog_event_queue_size"]),
    ("dtle_buffer_src_queue_size", ("src",),
     lambda r: r["buffer_status"]["extractor_tx_queue_size"]),
    ("dtle_buffer_send_by_timeout", ("src",), lambda r: r["buffer_status"]["send_by_timeout"]),
    ("dtle_buffer_send_by_size_full", ("src",),
     lambda r: r["buffer_status"]["send_by_size_full"]),
    ("dtle_buffer_dest_queue2_size", ("dest",),
     lambda r: r["buffer_status"]["applier_tx_queue_size"]),
    ("dtle_delay_time", ("src", "dest"), lambda r: r["delay_count"]["time"]),
    ("dtle_src_extracted_incr_tx_count", ("src",), lambda r: r["exec_master_tx_count"]),
    ("dtle_dest_applied_incr_tx_count", ("dest",), lambda r: r["exec_master_tx_count"]),
)
_LABELS = ["job_id", "task_name", "allocation_id"]


class StoreCollector(Collector):
    """Builds the metric families from the job store and the stats records."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("dtle_node_up", "1 when the node is ready", labels=["node_id", "datacenter"])
        for node in Node.objects.all():
            up.add_metric([node.node_id, node.datacenter], 1 if node.status == NodeStatus.READY else 0)
        yield up
        status = GaugeMetricFamily("dtle_job_status", "1 for the job's current status",
                                   labels=["job_id", "job_type", "status"])
        for job in Job.objects.all():
            status.add_metric([job.job_id, job.job_type, job.status], 1)
        yield status
        yield from self._task_metrics()

    def _task_metrics(self) -> Iterator[GaugeMetricFamily]:
        own = [(GaugeMetricFamily(f"dtle_task_{name}", doc, labels=_LABELS), ("src", "dest"), read)
               for name, doc, read in _TASK_GAUGES]
        dtle = [(GaugeMetricFamily(name, f"dtle's {name} gauge", labels=_LABELS), kinds, read)
                for name, kinds, read in _DTLE_GAUGES]
        store = StatsStore(get_redis())
        tasks = Task.objects.exclude(current_allocation=None).select_related("current_allocation")
        for task in tasks:
            allocation_id = str(task.current_allocation_id)
            record = store.load(allocation_id)
            if record is None:
                continue
            for family, kinds, read in (*own, *dtle):
                if task.kind in kinds:
                    family.add_metric([task.job_id, task.task_name, allocation_id], read(record))
        for family, _, _ in (*own, *dtle):
            yield family


def _allowed(request: HttpRequest) -> bool:
    """Open unless DTLE_METRICS_TOKEN is set; then the token, bare or as Bearer, is needed."""
    if not settings.METRICS_TOKEN:
        return True
    given = request.headers.get("Authorization", "").split()
    token = given[-1] if given and (len(given) == 1 or given[0].lower() == "bearer") else ""
    return hmac.compare_digest(token.encode(), settings.METRICS_TOKEN.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        response = HttpResponse("metrics need the DTLE_METRICS_TOKEN\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
