"""The job-config schema: defaults, rules, unknown fields, and its match with the engine config."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from rest_framework import serializers

from jobs.serializers import (
    JobConfigSerializer,
    KafkaDestTaskSerializer,
    MySQLConnectionConfigSerializer,
    MySQLDestTaskSerializer,
    SchemaRuleSerializer,
    SrcTaskSerializer,
    SubscriptionJobConfigSerializer,
    TableRuleSerializer,
    to_job_config,
)
from replication import config as engine

PAIRS = [
    (MySQLConnectionConfigSerializer, engine.MySQLConnectionConfig),
    (TableRuleSerializer, engine.TableRule),
    (SchemaRuleSerializer, engine.SchemaRule),
    (SrcTaskSerializer, engine.SrcTaskConfig),
    (MySQLDestTaskSerializer, engine.MySQLDestTaskConfig),
    (KafkaDestTaskSerializer, engine.KafkaDestTaskConfig),
]
ENGINE_ONLY = {"job_type"}  # taken from the route, not from the body
SERIALIZER_ONLY = {"is_mysql_password_encrypted"}  # consumed while validating


def conn(port: int = 3307) -> dict[str, Any]:
    return {"mysql_host": "10.186.63.28", "mysql_port": port, "mysql_user": "test",
            "mysql_password": "test"}


def job(**changes: Any) -> dict[str, Any]:
    body = {"job_name": "job1", "src_task": {"mysql_connection_config": conn()},
            "dest_task": {"mysql_connection_config": conn(3308)}}
    body.update(changes)
    return body


def errors_of(serializer_class: type, data: Any) -> str:
    serializer = serializer_class(data=data)
    assert not serializer.is_valid()
    from jobs.errors import first_message

    return first_message(serializer.errors)


@pytest.mark.parametrize(("serializer_class", "dataclass"), PAIRS)
def test_serializer_fields_match_the_engine_dataclass(serializer_class: type,
                                                      dataclass: type) -> None:
    assert set(serializer_class().fields) == {f.name for f in dataclasses.fields(dataclass)}


def test_job_serializer_fields_match_the_engine_job_config() -> None:
    fields = set(JobConfigSerializer().fields) - SERIALIZER_ONLY
    assert fields == {f.name for f in dataclasses.fields(engine.JobConfig)} - ENGINE_ONLY


@pytest.mark.parametrize(("serializer_class", "dataclass"), PAIRS)
def test_serializer_defaults_match_the_engine_defaults(serializer_class: type,
                                                       dataclass: type) -> None:
    fields = serializer_class().fields
    for f in dataclasses.fields(dataclass):
        if f.default is not dataclasses.MISSING and f.default != ():
            assert fields[f.name].default == f.default, f.name


def test_every_field_has_help_text() -> None:
    def walk(serializer: serializers.Serializer, path: str) -> list[str]:
        missing = []
        for name, field in serializer.fields.items():
            if not field.help_text:
                missing.append(f"{path}.{name}")
            child = getattr(field, "child", field)
            if isinstance(child, serializers.Serializer):
                missing += walk(child, f"{path}.{name}")
        return missing

    assert walk(JobConfigSerializer(), "job") == []
    assert walk(SubscriptionJobConfigSerializer(), "job") == []


def test_to_job_config_fills_defaults_and_freezes() -> None:
    serializer = JobConfigSerializer(data=job(src_task={
        "mysql_connection_config": conn(),
        "replicate_do_db": [{"table_schema": "db1", "tables": [{"table_name": "tb1"}]}]}))
    assert serializer.is_valid(), serializer.errors
    cfg = to_job_config({**serializer.validated_data, "job_id": "job1-sync"}, "sync")
    assert cfg.job_type is engine.JobType.SYNC
    assert cfg.src_task.chunk_size == 2000 and cfg.src_task.repl_chan_buffer_size == 32
    assert cfg.src_task.replicate_do_db == (
        engine.SchemaRule(table_schema="db1", tables=(engine.TableRule(table_name="tb1"),)),)
    assert isinstance(cfg.dest_task, engine.MySQLDestTaskConfig)
    assert cfg.dest_task.mysql_connection_config.mysql_password == "test"


def test_to_job_config_builds_a_kafka_dest() -> None:
    serializer = SubscriptionJobConfigSerializer(data=job(dest_task={
        "kafka_broker_addrs": ["127.0.0.1:9092"], "kafka_topic": "bss"}))
    assert serializer.is_valid(), serializer.errors
    cfg = to_job_config({**serializer.validated_data, "job_id": "job1-subscription"},
                        "subscription")
    assert cfg.dest_task == engine.KafkaDestTaskConfig(
        kafka_broker_addrs=("127.0.0.1:9092",), kafka_topic="bss")


@pytest.mark.parametrize(("body", "expected"), [
    (job(extra=1), "extra: unknown field"),
    (job(src_task={"mysql_connection_config": conn(), "chunksize": 5}),
     "src_task.chunksize: unknown field"),
    (job(src_task={"mysql_connection_config": {**conn(), "mysql_pass": "x"}}),
     "src_task.mysql_connection_config.mysql_pass: unknown field"),
    (job(src_task={"mysql_connection_config": conn(), "replicate_do_db": [
        {"table_schema": "a", "tables": [{"table_name": "t", "colour": "red"}]}]}),
     "src_task.replicate_do_db[0].tables[0].colour: unknown field"),
])
def test_it_rejects_unknown_fields_at_every_level(body: dict[str, Any], expected: str) -> None:
    assert errors_of(JobConfigSerializer, body) == expected


@pytest.mark.parametrize(("rule", "field"), [
    ({}, "table_schema"),
    ({"table_schema": "a", "table_schema_regex": "b"}, "table_schema"),
    ({"table_schema_regex": "db(.*)"}, "table_schema_rename"),
    ({"table_schema_regex": "db(", "table_schema_rename": "x${1}"}, "table_schema_regex"),
    ({"table_schema": "a", "tables": [{}]}, "tables[0].table_name"),
    ({"table_schema": "a", "tables": [{"table_name": "t", "table_regex": "t"}]},
     "tables[0].table_name"),
    ({"table_schema": "a", "tables": [{"table_regex": "t(.*)"}]}, "tables[0].table_rename"),
    ({"table_schema": "a", "tables": [{"table_regex": "t[", "table_rename": "x"}]},
     "tables[0].table_regex"),
    ({"table_schema": "mysql"}, "table_schema"),
])
def test_it_rejects_bad_table_rules(rule: dict[str, Any], field: str) -> None:
    body = job(src_task={"mysql_connection_config": conn(), "replicate_do_db": [rule]})
    message = errors_of(JobConfigSerializer, body)
    assert message.startswith(f"src_task.replicate_do_db[0].{field}: "), message


def test_it_accepts_regex_rules_with_rename_templates() -> None:
    rule = {"table_schema_regex": "db(\\d+)", "table_schema_rename": "new_${1}",
            "tables": [{"table_regex": "t(.*)", "table_rename": "x_${1}"}]}
    serializer = JobConfigSerializer(
        data=job(src_task={"mysql_connection_config": conn(), "replicate_do_db": [rule]}))
    assert serializer.is_valid(), serializer.errors


@pytest.mark.parametrize(("body", "expected"), [
    ({"src_task": {"mysql_connection_config": conn()}, "dest_task": {
        "mysql_connection_config": conn()}}, "job_name: This field is required."),
    (job(src_task={}), "src_task.mysql_connection_config: This field is required."),
    (job(src_task={"mysql_connection_config": {**conn(), "mysql_port": "x"}}),
     "src_task.mysql_connection_config.mysql_port: A valid integer is required."),
    (job(src_task={"mysql_connection_config": conn(), "chunk_size": 0}),
     "src_task.chunk_size: Ensure this value is greater than or equal to 1."),
    (job(failover="maybe"), "failover: Must be a valid boolean."),
    (job(failover=False), "src_task.node_id: failover=false needs a node_id for every task"),
])
def test_it_rejects_missing_and_mistyped_fields(body: dict[str, Any], expected: str) -> None:
    assert errors_of(JobConfigSerializer, body) == expected


def test_a_subscription_needs_kafka_fields() -> None:
    message = errors_of(SubscriptionJobConfigSerializer, job(dest_task={"kafka_topic": "t"}))
    assert message == "dest_task.kafka_broker_addrs: This field is required."
