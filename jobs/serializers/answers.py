"""Shapes of the /v2 answers, for the API schema (views build the JSON in jobs.presenters)."""

from __future__ import annotations

from rest_framework import serializers

from jobs.models import JobStatus, JobType, NodeStatus, TaskStatus
from jobs.serializers.config import JobConfigSerializer, SubscriptionJobConfigSerializer


def _s(help_text: str) -> serializers.CharField:
    return serializers.CharField(help_text=help_text, allow_blank=True)


def _i(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(help_text=help_text)


class CreateAnswerSerializer(serializers.Serializer):
    """The stored job config (defaults filled in, passwords "*") and its indexes."""

    job = JobConfigSerializer(help_text="The stored config.")
    eval_create_index = _i("Index of the evaluation the change created.")
    job_modify_index = _i("Index of the job's last change.")
    message = _s("\"ok\".")


class SubscriptionCreateAnswerSerializer(CreateAnswerSerializer):
    """The stored subscription job config (defaults filled in, passwords "*") and its indexes."""

    job = SubscriptionJobConfigSerializer(help_text="The stored config.")


class JobSummarySerializer(serializers.Serializer):
    """One job of the list."""

    job_id = _s("Job id.")
    job_name = _s("Job name.")
    job_type = serializers.ChoiceField(choices=JobType.choices, help_text="Job type.")
    job_status = serializers.ChoiceField(choices=JobStatus.choices, help_text="Job status.")
    job_status_description = _s("Why the job has its status, when it is not obvious.")


class JobListAnswerSerializer(serializers.Serializer):
    """The jobs matching the filters."""

    jobs = JobSummarySerializer(many=True, help_text="Jobs.")
    message = _s("\"ok\".")


class TaskEventSerializer(serializers.Serializer):
    """An event in an allocation's life."""

    event_type = _s("Received, Task Setup, Started, Driver, Terminated, Restarting, ...")
    setup_error = _s("Error while setting the task up.")
    message = _s("What happened (Driver: job_stage_full / job_stage_incr).")
    time = _s("RFC 3339 time.")


class TaskStatusSerializer(serializers.Serializer):
    """The status of one allocation."""

    task_events = TaskEventSerializer(many=True, help_text="Events, oldest first.")
    started_at = _s("Start time; 0001-01-01T00:00:00Z when unset.")
    finished_at = _s("End time; 0001-01-01T00:00:00Z when unset.")
    status = serializers.ChoiceField(choices=TaskStatus.choices, help_text="Allocation status.")


class AllocationSerializer(serializers.Serializer):
    """One placement of a task on a node."""

    node_id = _s("Node id.")
    allocation_id = _s("Allocation id.")
    task_status = TaskStatusSerializer(help_text="Status and events.")


class TaskDetailSerializer(serializers.Serializer):
    """A task's allocations and config."""

    allocations = AllocationSerializer(many=True, help_text="Allocations, oldest first.")
    task_config = serializers.DictField(help_text="The task's config, passwords \"*\".")


class JobDetailAnswerSerializer(serializers.Serializer):
    """A job with its tasks' allocations, events and configs."""

    job_id = _s("Job id.")
    job_name = _s("Job name.")
    job_type = serializers.ChoiceField(choices=JobType.choices, help_text="Job type.")
    job_status = serializers.ChoiceField(choices=JobStatus.choices, help_text="Job status.")
    failover = serializers.BooleanField(help_text="Failover enabled.")
    src_task_detail = TaskDetailSerializer(help_text="Source task.")
    dest_task_detail = TaskDetailSerializer(help_text="Target task.")
    message = _s("\"ok\".")


class CheckSerializer(serializers.Serializer):
    """One validation check."""

    validated = serializers.BooleanField(help_text="The check passed.")
    error = _s("Why it failed.")


def _check(help_text: str) -> CheckSerializer:
    return CheckSerializer(allow_null=True, help_text=help_text + " null: does not apply.")


class TaskReportSerializer(serializers.Serializer):
    """The validation report of one MySQL task."""

    task_name = _s("Task name.")
    connection_validation = _check("Can connect.")
    privileges_validation = _check("Has the privileges the side needs.")
    gtid_mode_validation = _check("GTID on (MySQL) or available (MariaDB).")
    server_id_validation = _check("server_id set and non-zero.")
    binlog_validation = _check("log_bin ON, binlog_format ROW, binlog_row_image FULL.")


class ValidationAnswerSerializer(serializers.Serializer):
    """The result of validating a job config."""

    driver_config_validated = serializers.BooleanField(help_text="The config itself is valid.")
    mysql_task_validation_report = TaskReportSerializer(many=True, help_text="Per MySQL task.")
    job_validation_error = _s("Why the config is invalid.")
    job_validation_warning = _s("Warnings.")
    message = _s("\"ok\".")


class MonitorAnswerSerializer(serializers.Serializer):
    """A task's stats record (current_coordinates, delay_count, progress_PCT, ...)."""

    tasks_status = serializers.DictField(help_text="dtle's monitor fields.")
    message = _s("\"ok\".")


class NodeSerializer(serializers.Serializer):
    """One worker node."""

    node_address = _s("Node IP.")
    node_name = _s("Host name.")
    node_id = _s("Node id.")
    node_status = serializers.ChoiceField(choices=NodeStatus.choices, help_text="Node status.")
    node_status_description = _s("Why the node has its status.")
    datacenter = _s("Datacenter.")


class NodesAnswerSerializer(serializers.Serializer):
    """All nodes."""

    nodes = NodeSerializer(many=True, help_text="Nodes.")
    message = _s("\"ok\".")


class TableNameSerializer(serializers.Serializer):
    """A table."""

    table_name = _s("Table name.")


class SchemaSerializer(serializers.Serializer):
    """A schema and its base tables (key ``Tables`` as in dtle)."""

    schema_name = _s("Schema name.")
    Tables = TableNameSerializer(many=True, help_text="Base tables (views left out).")


class SchemasAnswerSerializer(serializers.Serializer):
    """The instance's user schemas."""

    schemas = SchemaSerializer(many=True, help_text="Schemas (system schemas left out).")
    message = _s("\"ok\".")


class ColumnsAnswerSerializer(serializers.Serializer):
    """A table's columns in order."""

    columns = serializers.ListField(child=serializers.CharField(), help_text="Column names.")
    message = _s("\"ok\".")


class GtidAnswerSerializer(serializers.Serializer):
    """The GTID set the job has applied."""

    gtid = _s("Executed GTID set; empty before the first transaction is applied.")
    message = _s("\"ok\".")


class LogLevelAnswerSerializer(serializers.Serializer):
    """The log level now in force."""

    dtle_log_level = _s("Log level.")
    message = _s("\"ok\".")
