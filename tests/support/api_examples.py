"""Example requests and answers of the API document, and a check that an answer has their shape.

``same_shape`` holds an answer to an example: every key of the example is present with a value
of the same JSON type (``null`` must stay ``null``); extra keys are allowed.
"""

from __future__ import annotations

import copy
from typing import Any

MYSQL_SRC = {"mysql_host": "10.186.63.28", "mysql_password": "test", "mysql_port": 3307,
             "mysql_user": "test"}
MYSQL_DEST = {**MYSQL_SRC, "mysql_port": 3308}
MASKED_SRC = {"mysql_host": "10.186.63.28", "mysql_port": 3307, "mysql_user": "test",
              "mysql_password": "*"}

MIGRATION_REQUEST = {
    "is_mysql_password_encrypted": False,
    "failover": True,
    "dest_task": {"mysql_connection_config": MYSQL_DEST, "task_name": "dest"},
    "job_name": "job1",
    "src_task": {"mysql_connection_config": MYSQL_SRC, "replicate_do_db": [], "task_name": "src"},
}

SRC_ANSWER = {
    "task_name": "src", "gtid": "", "group_max_size": 1, "chunk_size": 2000,
    "drop_table_if_exists": False, "skip_create_db_table": False, "repl_chan_buffer_size": 32,
    "replicate_do_db": [], "replicate_ignore_db": None, "mysql_connection_config": MASKED_SRC,
}
MIGRATION_ANSWER = {
    "job": {
        "job_name": "job1", "job_id": "job1-migration", "failover": True,
        "is_mysql_password_encrypted": False,
        "src_task": SRC_ANSWER,
        "dest_task": {"task_name": "dest", "parallel_workers": 1,
                      "mysql_connection_config": {**MASKED_SRC, "mysql_port": 3308}},
    },
    "eval_create_index": 81, "job_modify_index": 80, "message": "ok",
}

SUBSCRIPTION_REQUEST = {
    "is_mysql_password_encrypted": False,
    "failover": True,
    "dest_task": {"kafka_broker_addrs": ["10.186.63.162:9092"], "kafka_topic": "bss",
                  "task_name": "dest"},
    "job_name": "job1",
    "src_task": {"mysql_connection_config": MYSQL_SRC,
                 "replicate_do_db": [{"table_schema": "db1", "tables": [{"table_name": "tb1"}]}],
                 "task_name": "src"},
}
KAFKA_DEST_ANSWER = {"task_name": "dest", "kafka_broker_addrs": ["10.186.63.162:9092"],
                     "kafka_topic": "bss", "message_group_max_size": 1,
                     "message_group_timeout": 100}
SUBSCRIPTION_ANSWER = {
    "job": {
        "job_name": "job1", "job_id": "job1-subscription", "failover": True,
        "is_mysql_password_encrypted": False,
        "src_task": {**SRC_ANSWER, "replicate_do_db": [{
            "table_schema": "db1", "table_schema_rename": None,
            "tables": [{"table_name": "tb1", "table_rename": "", "column_map_from": None,
                        "where": ""}]}]},
        "dest_task": KAFKA_DEST_ANSWER,
    },
    "eval_create_index": 143, "job_modify_index": 23, "message": "ok",
}

LIST_ANSWER = {"jobs": [{"job_id": "job1-migration", "job_name": "job1", "job_status": "running",
                         "job_status_description": ""}], "message": "ok"}

EVENT = {"event_type": "Received", "setup_error": "", "message": "Task received by client",
         "time": "2021-06-04T09:10:18Z"}
ALLOCATION = {"node_id": "aae994ee-e4e3-635f-fe9b-b2fa511e6a32",
              "allocation_id": "976b3a73-837a-182d-9c25-d9e7dc85cc44",
              "task_status": {"task_events": [EVENT],
                              "started_at": "2021-06-04T09:10:18.097633981Z",
                              "finished_at": "0001-01-01T00:00:00Z", "status": "running"}}
DETAIL_ANSWER = {
    "job_id": "job1-migration", "job_name": "job1", "failover": True,
    "src_task_detail": {"allocations": [ALLOCATION],
                        "task_config": {**SRC_ANSWER, "replicate_ignore_db": []}},
    "dest_task_detail": {"allocations": [ALLOCATION],
                         "task_config": MIGRATION_ANSWER["job"]["dest_task"]},
    "message": "ok",
}

CHECK = {"validated": True, "error": ""}
VALIDATION_ANSWER = {
    "driver_config_validated": True,
    "mysql_task_validation_report": [
        {"task_name": "src", "connection_validation": CHECK, "privileges_validation": CHECK,
         "gtid_mode_validation": CHECK, "server_id_validation": CHECK,
         "binlog_validation": CHECK},
        {"task_name": "dest", "connection_validation": CHECK, "privileges_validation": CHECK,
         "gtid_mode_validation": None, "server_id_validation": None, "binlog_validation": None},
    ],
    "job_validation_error": "", "job_validation_warning": "", "message": "ok",
}

MONITOR_ANSWER = {
    "tasks_status": {
        "current_coordinates": {"file": "mysql-bin.000001", "position": 154,
                                "gtid_set": "00003307-1111-1111-1111-111111111111:1-24",
                                "relay_master_log_file": "", "read_master_log_pos": 0,
                                "retrieved_gtid_set": ""},
        "delay_count": {"num": 0, "time": 0},
        "progress_PCT": "100.0", "exec_master_row_count": 4, "exec_master_tx_count": 958859,
        "read_master_row_count": 4, "read_master_tx_count": 958859, "ETA": "0s",
        "backlog": "0/128", "throughput_status": None,
        "nats_message_status": {"in_messages": 5, "out_messages": 5, "in_bytes": 0,
                                "out_bytes": 1021, "reconnects": 0},
        "buffer_status": {"binlog_event_queue_size": 0, "extractor_tx_queue_size": 0,
                          "applier_tx_queue_size": 0, "send_by_timeout": 0,
                          "send_by_size_full": 0},
        "stage": "Master has sent all binlog to slave; waiting for more updates",
        "timestamp": 1620882952091441700,
    },
    "message": "ok",
}

NODES_ANSWER = {"nodes": [{"node_address": "10.186.63.86", "node_name": "dtle-dest-1",
                           "node_id": "37dc2ff4-ca49-f466-d8a1-12b41b949422",
                           "node_status": "ready", "node_status_description": "",
                           "datacenter": "dc1"}], "message": "ok"}

SCHEMAS_ANSWER = {"schemas": [{"schema_name": "db1", "Tables": [{"table_name": "tb1"}]}],
                  "message": "ok"}

LOG_LEVEL_ANSWER = {"dtle_log_level": "DEBUG", "message": "ok"}


def pointed_at(request: dict[str, Any], src: dict[str, Any],
               dest: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of an example request with its MySQL servers replaced."""
    body = copy.deepcopy(request)
    body["src_task"]["mysql_connection_config"] = dict(src)
    if dest is not None:
        body["dest_task"]["mysql_connection_config"] = dict(dest)
    return body


def shape_errors(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """Where ``actual`` differs in shape from ``expected`` (empty when it matches)."""
    if expected is None:
        return [] if actual is None else [f"{path}: expected null, got {actual!r}"]
    if isinstance(expected, bool) or isinstance(actual, bool):
        ok = isinstance(expected, bool) and isinstance(actual, bool)
        return [] if ok else [f"{path}: expected bool, got {actual!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected object, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += shape_errors(actual[key], value, f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected array, got {actual!r}"]
        # Items are compared pairwise when the example has as many, else with its first item.
        pairs = zip(actual, expected if len(expected) == len(actual) else expected[:1] * len(actual),
                    strict=False)
        return [p for i, (item, example) in enumerate(pairs)
                for p in shape_errors(item, example, f"{path}[{i}]")]
    if not isinstance(actual, type(expected)):
        return [f"{path}: expected {type(expected).__name__}, got {actual!r}"]
    return []


def assert_same_shape(actual: Any, expected: Any) -> None:
    problems = shape_errors(actual, expected)
    assert problems == [], problems
