"""The Kafka sink's resume store: the job's checkpoint record and schema history, read back."""

from __future__ import annotations

from collections.abc import Sequence

from replication.config import KafkaDestTaskConfig
from replication.errors import ConfigError
from replication.position import BinlogPosition
from replication.resume import SnapshotResume
from replication.sinks.kafka import broker
from replication.sinks.kafka.checkpoint import TAIL_OFFSETS, KafkaCheckpoint
from replication.sinks.kafka.history import SchemaHistoryTopic
from replication.source.schema import SchemaHistory, SchemaVersion
from replication.task import TaskContext


def kafka_config(ctx: TaskContext) -> KafkaDestTaskConfig:
    dest = ctx.job.dest_task
    if not isinstance(dest, KafkaDestTaskConfig):
        raise ConfigError("this job's dest is not a Kafka target")
    return dest


def load_checkpoint(servers: list[str], job_id: str) -> KafkaCheckpoint | None:
    """The newest committed checkpoint of the job, or None when nothing was published yet."""
    topic = broker.checkpoint_topic(job_id)
    records = broker.read_topic(servers, topic, tail=TAIL_OFFSETS)
    if not records:
        records = broker.read_topic(servers, topic)  # many aborted transactions at the end
    for record in reversed(records):
        if record.value is not None:
            return KafkaCheckpoint.from_bytes(record.value)
    return None


class KafkaResumeStore:
    """What a subscription job has published, for its src."""

    def __init__(self, ctx: TaskContext) -> None:
        self._servers = broker.bootstrap(kafka_config(ctx))
        self._job_id = ctx.job.job_id
        self._history = SchemaHistoryTopic(self._servers, self._job_id)

    def _checkpoint(self) -> KafkaCheckpoint:
        return load_checkpoint(self._servers, self._job_id) or KafkaCheckpoint()

    def incremental_start(self) -> BinlogPosition | None:
        return self._checkpoint().position

    def snapshot_resume(self) -> SnapshotResume:
        return self._checkpoint().snapshot_resume()

    def record_schema(self, versions: Sequence[SchemaVersion]) -> None:
        self._history.record(versions)

    def schema_at(self, position: BinlogPosition) -> dict[tuple[str, str], SchemaVersion]:
        return SchemaHistory(self._history.load()).at(position)

    def close(self) -> None:
        self._history.close()
