"""The job-config schema: dtle's field names, defaults, bounds and rules, in one place.

``JobConfigSerializer`` (MySQL target) and ``SubscriptionJobConfigSerializer`` (Kafka target)
validate a create request; ``to_job_config`` turns the validated data into the engine's frozen
dataclasses. ``tests/unit/test_api_schema.py`` keeps the two in step.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from pymysql.charset import charset_by_name
from rest_framework import serializers

from replication.config import (
    SYSTEM_SCHEMAS,
    JobConfig,
    JobType,
    KafkaDestTaskConfig,
    MySQLConnectionConfig,
    MySQLDestTaskConfig,
    SchemaRule,
    SrcTaskConfig,
    TableRule,
)
from replication.crypto import decrypt_password
from replication.errors import ConfigError
from replication.scope.where import checked_where

# Bounds that no real job reaches but that keep a hostile body from costing much: MySQL tables
# have at most 4096 columns, and 10,000 rules is far beyond any hand-written config.
MAX_COLUMNS = 4096
MAX_RULES = 10_000


class StrictSerializer(serializers.Serializer):
    """A serializer that rejects fields it does not know, naming them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: ["unknown field"]})
        return super().to_internal_value(data)


def _compiles(pattern: str, field: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise serializers.ValidationError(
            {field: [f"invalid regular expression {pattern!r}: {exc}"]}
        ) from exc



def _usable_charset(name: str) -> bool:
    """PyMySQL knows the character set and Python can encode text in it."""
    charset = charset_by_name(name)
    if charset is None:
        return False
    try:
        codecs.lookup(charset.encoding)
    except LookupError:  # e.g. binary, geostd8: the connection could not send a query
        return False
    return True


# The character sets a connection may name (the API also takes them in upper case).
MYSQL_CHARSETS = sorted(
    {"utf8", *(name for name in (
        "armscii8 ascii big5 binary cp1250 cp1251 cp1256 cp1257 cp850 cp852 cp866 cp932 dec8 "
        "eucjpms euckr gb18030 gb2312 gbk geostd8 greek hebrew hp8 keybcs2 koi8r koi8u latin1 "
        "latin2 latin5 latin7 macce macroman sjis swe7 tis620 ujis utf8mb3 utf8mb4").split()
        if _usable_charset(name))})


@extend_schema_field({"type": "string", "enum": MYSQL_CHARSETS})
class CharsetField(serializers.CharField):
    """A MySQL character set name, documented as the list of names the API knows."""


def _text(help_text: str, default: str = "", **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        required=False, default=default, allow_blank=True, help_text=help_text, **kwargs
    )


def _flag(help_text: str, default: bool) -> serializers.BooleanField:
    return serializers.BooleanField(required=False, default=default, help_text=help_text)


class MySQLConnectionConfigSerializer(StrictSerializer):
    """How to reach a MySQL server."""

    mysql_host = serializers.CharField(max_length=255, help_text="MySQL host name or IP.")
    mysql_port = serializers.IntegerField(min_value=1, max_value=65535, help_text="MySQL port.")
    mysql_user = serializers.CharField(max_length=255, help_text="MySQL user.")
    mysql_password = _text(
        "MySQL password; plain, or base64 of RSA ciphertext when is_mysql_password_encrypted "
        "is true. Always shown as \"*\".", max_length=4096, trim_whitespace=False)
    mysql_character_set = CharsetField(required=False, default="utf8mb4", max_length=32,
                                       help_text="Connection character set.")
    mysql_ssl_ca = _text("Path (on every node) of the CA certificate that signed the server's "
                         "certificate; makes TLS required and the certificate checked.",
                         max_length=4096)
    mysql_ssl_cert = _text("Path of a client certificate (PEM) for servers that ask for one.",
                           max_length=4096)
    mysql_ssl_key = _text("Path of the client certificate's private key (PEM).", max_length=4096)
    mysql_ssl_verify_identity = _flag(
        "Also check that the server's certificate names mysql_host (needs mysql_ssl_ca).", False)

    def validate_mysql_character_set(self, value: str) -> str:
        if value and charset_by_name(value) is None:
            raise serializers.ValidationError(f"{value!r} is not a MySQL character set")
        if value and not _usable_charset(value):
            raise serializers.ValidationError(
                f"{value!r} cannot carry text; use one of {', '.join(MYSQL_CHARSETS)}")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("mysql_ssl_cert")) != bool(attrs.get("mysql_ssl_key")):
            raise serializers.ValidationError(
                {"mysql_ssl_key": ["give mysql_ssl_cert and mysql_ssl_key together"]})
        if attrs.get("mysql_ssl_verify_identity") and not attrs.get("mysql_ssl_ca"):
            raise serializers.ValidationError(
                {"mysql_ssl_verify_identity": ["needs mysql_ssl_ca"]})
        return attrs


class TableRuleSerializer(StrictSerializer):
    """One table rule: exactly one of table_name / table_regex."""

    table_name = _text("Source table name.", max_length=64)
    table_regex = _text("Regular expression over source table names (needs table_rename).",
                        max_length=1024)
    table_rename = _text("Target table name; with table_regex a template such as new_${1}.",
                         max_length=1024)
    column_map_from = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list,
        max_length=MAX_COLUMNS,
        allow_null=True, help_text="Source columns to copy, in this order (empty: all).")
    where = _text("Boolean SQL expression over the table's columns; rows failing it are skipped.",
                  max_length=4096)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs["table_name"]) == bool(attrs["table_regex"]):
            raise serializers.ValidationError(
                {"table_name": ["give exactly one of table_name and table_regex"]})
        if attrs["table_regex"]:
            _compiles(attrs["table_regex"], "table_regex")
            if not attrs["table_rename"]:
                raise serializers.ValidationError(
                    {"table_rename": ["table_regex needs a table_rename template"]})
        attrs["column_map_from"] = list(attrs.get("column_map_from") or [])
        try:
            checked_where(attrs["where"])
        except ConfigError as exc:
            raise serializers.ValidationError(
                {"where": [str(exc).removeprefix("where: ")]}) from exc
        return attrs


class SchemaRuleSerializer(StrictSerializer):
    """One schema rule: exactly one of table_schema / table_schema_regex."""

    table_schema = _text("Source schema name.", max_length=64)
    table_schema_regex = _text(
        "Regular expression over source schema names (needs table_schema_rename).",
        max_length=1024)
    table_schema_rename = _text(
        "Target schema name; with table_schema_regex a template such as new_${1}.",
        max_length=1024, allow_null=True)
    tables = TableRuleSerializer.many_init(
        required=False, default=list, max_length=MAX_RULES,
        help_text="Table rules; empty means every table of the schema.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["table_schema_rename"] = attrs.get("table_schema_rename") or ""
        if bool(attrs["table_schema"]) == bool(attrs["table_schema_regex"]):
            raise serializers.ValidationError(
                {"table_schema": ["give exactly one of table_schema and table_schema_regex"]})
        if attrs["table_schema"] in SYSTEM_SCHEMAS:
            raise serializers.ValidationError(
                {"table_schema": [f"{attrs['table_schema']} is a system schema"]})
        if attrs["table_schema_regex"]:
            _compiles(attrs["table_schema_regex"], "table_schema_regex")
            if not attrs["table_schema_rename"]:
                raise serializers.ValidationError({"table_schema_rename": [
                    "table_schema_regex needs a table_schema_rename template"]})
        return attrs


def _rules(help_text: str) -> serializers.BaseSerializer:
    return SchemaRuleSerializer.many_init(required=False, default=list, allow_null=True,
                                          max_length=MAX_RULES, help_text=help_text)


def _count(help_text: str, default: int, min_value: int, max_value: int) -> serializers.Field:
    return serializers.IntegerField(required=False, default=default, min_value=min_value,
                                    max_value=max_value, help_text=help_text)


class SrcTaskSerializer(StrictSerializer):
    """The source task: a MySQL server read by snapshot, then binlog."""

    task_name = _text("Task name.", default="src", max_length=64)
    node_id = _text("Preferred node (failover=true) or required node (failover=false).",
                    max_length=128)
    mysql_connection_config = MySQLConnectionConfigSerializer(help_text="Source MySQL server.")
    gtid = _text("Executed GTID set to start after (incremental only); empty: full copy first.",
                 max_length=65535)
    binlog_file = _text("Binlog file to start from when the source has no GTID.", max_length=255)
    binlog_pos = _count("Binlog position in binlog_file.", 0, 0, 2**63 - 1)
    auto_gtid = _flag("Incremental only, from the source's current position.", False)
    replicate_do_db = _rules("Schemas and tables to replicate; empty: the whole instance.")
    replicate_ignore_db = _rules("Schemas and tables to leave out; wins over replicate_do_db.")
    chunk_size = _count("Rows per snapshot chunk.", 2000, 1, 1_000_000)
    group_max_size = _count("Bytes of transactions batched into one message (1: no batching).",
                            1, 1, 1 << 30)
    group_timeout = _count("Milliseconds before a partial batch is sent.", 100, 1, 60_000)
    repl_chan_buffer_size = _count("In-flight batches between src and dest.", 32, 1, 100_000)
    drop_table_if_exists = _flag("Drop target tables before creating them in the full copy.",
                                 False)
    skip_create_db_table = _flag("Do not create databases and tables on the target.", False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["replicate_do_db"] = list(attrs.get("replicate_do_db") or [])
        attrs["replicate_ignore_db"] = list(attrs.get("replicate_ignore_db") or [])
        if attrs["binlog_pos"] and not attrs["binlog_file"]:
            raise serializers.ValidationError({"binlog_file": ["binlog_pos needs a binlog_file"]})
        return attrs


class MySQLDestTaskSerializer(StrictSerializer):
    """The target task of a migration or sync job: a MySQL server."""

    task_name = _text("Task name.", default="dest", max_length=64)
    node_id = _text("Preferred node (failover=true) or required node (failover=false).",
                    max_length=128)
    mysql_connection_config = MySQLConnectionConfigSerializer(help_text="Target MySQL server.")
    parallel_workers = _count("Transactions applied in parallel on the target.", 1, 1, 256)
    use_my_sql_dependency = _flag(
        "Use the source's commit parents for parallel apply instead of row-key dependencies.",
        False)
    dependency_history_size = _count("Row keys remembered for dependency tracking.",
                                     2500, 1, 1_000_000)


# host:port, the host a name, an IPv4 address or a bracketed IPv6 address; port 1-65535.
BROKER_ADDRESS = (r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([1-9][0-9]{0,3}|[1-5][0-9]{4}|"
                  r"6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$")
TOPIC_NAME = r"^[A-Za-z0-9._-]+$"
# The codecs the project's own consumers (its checkpoint and schema history) can read back.
KAFKA_COMPRESSIONS = ("lz4", "none", "gzip", "zstd")


class KafkaDestTaskSerializer(StrictSerializer):
    """The target task of a subscription job: a Kafka cluster."""

    task_name = _text("Task name.", default="dest", max_length=64)
    node_id = _text("Preferred node (failover=true) or required node (failover=false).",
                    max_length=128)
    kafka_broker_addrs = serializers.ListField(
        child=serializers.RegexField(BROKER_ADDRESS, max_length=255), min_length=1,
        max_length=100, help_text="Kafka brokers as host:port.")
    kafka_topic = serializers.RegexField(
        TOPIC_NAME, max_length=200,
        help_text="Topic (prefix): letters, digits, '.', '_' and '-', as Kafka allows.")
    message_group_max_size = _count("Bytes of messages batched into one produce.", 1, 1, 1 << 30)
    message_group_timeout = _count("Milliseconds before a partial batch is produced.",
                                   100, 1, 60_000)
    topic_with_schema_table = _flag("Topic per table: <kafka_topic>.<schema>.<table>.", True)
    kafka_exactly_once = _flag(
        "Publish each batch and the job's position in one Kafka transaction, so read_committed "
        "consumers see every change once; false: at-least-once (for brokers without "
        "transactions).", True)
    kafka_compression = serializers.ChoiceField(
        KAFKA_COMPRESSIONS, required=False, default="lz4",
        help_text="Compression of the record batches (every Kafka client reads lz4); none: "
                  "uncompressed.")


class JobConfigSerializer(StrictSerializer):
    """A migration or sync job (MySQL to MySQL)."""

    job_name = serializers.CharField(max_length=64, help_text="Job name.")
    job_id = _text("Job id; stored as <job_id>-<type> (default <job_name>-<type>).",
                   max_length=64)
    failover = _flag("Move tasks to another node when theirs is down.", True)
    is_mysql_password_encrypted = _flag(
        "Passwords are base64 of RSA PKCS#1 v1.5 ciphertext for the server's key.", False)
    src_task = SrcTaskSerializer(help_text="Source task.")
    dest_task: StrictSerializer = MySQLDestTaskSerializer(help_text="Target task (MySQL).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["failover"]:
            for side in ("src_task", "dest_task"):
                if not attrs[side]["node_id"]:
                    raise serializers.ValidationError(
                        {side: {"node_id": ["failover=false needs a node_id for every task"]}})
        if attrs["src_task"]["task_name"] == attrs["dest_task"]["task_name"]:
            raise serializers.ValidationError(
                {"dest_task": {"task_name": ["src and dest tasks need different names"]}})
        if attrs["is_mysql_password_encrypted"]:
            decrypt_passwords(attrs)
        return attrs


class SubscriptionJobConfigSerializer(JobConfigSerializer):
    """A subscription job (MySQL to Kafka)."""

    dest_task = KafkaDestTaskSerializer(help_text="Target task (Kafka).")


def config_serializer_class(job_type: str) -> type[JobConfigSerializer]:
    if job_type == "subscription":
        return SubscriptionJobConfigSerializer
    return JobConfigSerializer


def decrypt_passwords(attrs: dict[str, Any]) -> None:
    """Replace each RSA-encrypted mysql_password in validated data by its plain text."""
    for side in ("src_task", "dest_task"):
        conn = attrs[side].get("mysql_connection_config")
        if conn is None:
            continue
        try:
            conn["mysql_password"] = decrypt_password(
                conn["mysql_password"], settings.RSA_PRIVATE_KEY_PATH)
        except ConfigError as exc:
            raise serializers.ValidationError(
                {side: {"mysql_connection_config": {"mysql_password": [str(exc)]}}}) from exc


def _connection(data: dict[str, Any]) -> MySQLConnectionConfig:
    return MySQLConnectionConfig(**data)


def _schema_rules(rules: list[dict[str, Any]] | None) -> tuple[SchemaRule, ...]:
    return tuple(
        SchemaRule(
            table_schema=rule["table_schema"],
            table_schema_regex=rule["table_schema_regex"],
            table_schema_rename=rule["table_schema_rename"] or "",
            tables=tuple(
                TableRule(**{**table, "column_map_from": tuple(table["column_map_from"] or ())})
                for table in rule["tables"]
            ),
        )
        for rule in rules or ()
    )


def _src_task(data: dict[str, Any]) -> SrcTaskConfig:
    fields = {**data, "mysql_connection_config": _connection(data["mysql_connection_config"])}
    fields["replicate_do_db"] = _schema_rules(data["replicate_do_db"])
    fields["replicate_ignore_db"] = _schema_rules(data["replicate_ignore_db"])
    return SrcTaskConfig(**fields)


def _dest_task(data: dict[str, Any]) -> MySQLDestTaskConfig | KafkaDestTaskConfig:
    if "kafka_broker_addrs" in data:
        return KafkaDestTaskConfig(
            **{**data, "kafka_broker_addrs": tuple(data["kafka_broker_addrs"])})
    return MySQLDestTaskConfig(
        **{**data, "mysql_connection_config": _connection(data["mysql_connection_config"])})


def to_job_config(data: dict[str, Any], job_type: JobType | str) -> JobConfig:
    """The engine's config from validated (or stored) data with plain passwords.

    ``data["job_id"]`` must already be the stored id (``<id>-<type>``).
    """
    return JobConfig(
        job_id=data["job_id"],
        job_name=data["job_name"],
        job_type=JobType(job_type),
        src_task=_src_task(data["src_task"]),
        dest_task=_dest_task(data["dest_task"]),
        failover=data["failover"],
    )
