"""Frozen configuration objects the engine runs from.

The control plane validates a job's JSON with its serializers and turns the result into these
dataclasses (``jobs.serializers.to_job_config``); the engine never sees raw JSON. Field names are
dtle's, so a config reads the same in the API, the store and the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# The schema on the target where the project keeps its checkpoints. It is never replicated.
CHECKPOINT_SCHEMA = "dtle"
SYSTEM_SCHEMAS = frozenset(
    {"mysql", "sys", "information_schema", "performance_schema", CHECKPOINT_SCHEMA}
)


class JobType(StrEnum):
    MIGRATION = "migration"
    SYNC = "sync"
    SUBSCRIPTION = "subscription"


@dataclass(frozen=True)
class MySQLConnectionConfig:
    """How to reach a MySQL server. The ``mysql_ssl_*`` files are paths on every node (and on
    the API host, which validates and inspects): any of them makes TLS required, the CA also
    makes the server's certificate checked, verify_identity also its host name."""

    mysql_host: str
    mysql_port: int
    mysql_user: str
    mysql_password: str = field(repr=False)
    mysql_character_set: str = "utf8mb4"
    mysql_ssl_ca: str = ""
    mysql_ssl_cert: str = ""
    mysql_ssl_key: str = ""
    mysql_ssl_verify_identity: bool = False


@dataclass(frozen=True)
class TableRule:
    """One entry of ``tables`` in a replicate_do_db / replicate_ignore_db rule."""

    table_name: str = ""
    table_regex: str = ""
    table_rename: str = ""
    column_map_from: tuple[str, ...] = ()
    where: str = ""


@dataclass(frozen=True)
class SchemaRule:
    """One entry of replicate_do_db / replicate_ignore_db. No tables means the whole schema."""

    table_schema: str = ""
    table_schema_regex: str = ""
    table_schema_rename: str = ""
    tables: tuple[TableRule, ...] = ()


@dataclass(frozen=True)
class SrcTaskConfig:
    mysql_connection_config: MySQLConnectionConfig
    task_name: str = "src"
    node_id: str = ""
    gtid: str = ""
    binlog_file: str = ""
    binlog_pos: int = 0
    auto_gtid: bool = False
    replicate_do_db: tuple[SchemaRule, ...] = ()
    replicate_ignore_db: tuple[SchemaRule, ...] = ()
    chunk_size: int = 2000
    group_max_size: int = 1
    group_timeout: int = 100
    repl_chan_buffer_size: int = 32
    drop_table_if_exists: bool = False
    skip_create_db_table: bool = False

    @property
    def incremental_only(self) -> bool:
        """True when the job starts from a given position and does no full copy."""
        return bool(self.gtid or self.binlog_file or self.auto_gtid)


@dataclass(frozen=True)
class MySQLDestTaskConfig:
    mysql_connection_config: MySQLConnectionConfig
    task_name: str = "dest"
    node_id: str = ""
    parallel_workers: int = 1
    use_my_sql_dependency: bool = False
    dependency_history_size: int = 2500


@dataclass(frozen=True)
class KafkaDestTaskConfig:
    kafka_broker_addrs: tuple[str, ...]
    kafka_topic: str
    task_name: str = "dest"
    node_id: str = ""
    message_group_max_size: int = 1
    message_group_timeout: int = 100
    topic_with_schema_table: bool = True
    kafka_exactly_once: bool = True
    kafka_compression: str = "lz4"  # the producer's compression.type


DestTaskConfig = MySQLDestTaskConfig | KafkaDestTaskConfig


@dataclass(frozen=True)
class JobConfig:
    job_id: str
    job_name: str
    job_type: JobType
    src_task: SrcTaskConfig
    dest_task: DestTaskConfig
    failover: bool = True
