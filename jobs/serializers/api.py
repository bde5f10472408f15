"""Request parameters and answer shapes of the /v2 routes (besides the job config itself).

The query and form serializers validate input; the answer serializers document the JSON the
views build (``jobs.presenters``), so Swagger shows the document's examples' fields.
"""

from __future__ import annotations

from rest_framework import serializers

from jobs.loglevel import LOG_LEVELS
from jobs.models import JobStatus, JobType
from jobs.serializers.config import (
    JobConfigSerializer,
    MySQLConnectionConfigSerializer,
    StrictSerializer,
    SubscriptionJobConfigSerializer,
)

JOB_TYPES = tuple(JobType.values)
# MySQL names hold characters of the Basic Multilingual Plane only, and no NUL.
MYSQL_NAME = "^[\u0001-\uffff]+$"
MYSQL_NAME_RULE = "a MySQL name holds characters U+0001 to U+FFFF only"


def _text(help_text: str, required: bool = False) -> serializers.CharField:
    if required:
        return serializers.CharField(max_length=255, help_text=help_text)
    return serializers.CharField(required=False, allow_blank=True, default="", max_length=255,
                                 help_text=help_text)


class MessageSerializer(serializers.Serializer):
    """``{"message": "ok"}`` or one sentence saying what went wrong."""

    message = serializers.CharField(help_text="\"ok\", or what went wrong.")


class JobIdSerializer(serializers.Serializer):
    """The job a pause, resume, delete, detail or gtid request is about (other fields, such as
    a browser's ``format``, are ignored)."""

    job_id = serializers.CharField(max_length=64, help_text="Job id, e.g. job1-migration.")


class JobListQuerySerializer(serializers.Serializer):
    """Filters of the job list; all optional and combined with AND."""

    filter_job_type = serializers.ChoiceField(
        choices=["", *JOB_TYPES], required=False, default="", help_text="Job type.")
    filter_job_id = _text("Job id prefix.")
    filter_job_status = serializers.ChoiceField(
        choices=["", *JobStatus.values], required=False,
        default="", help_text="Job status.")
    filter_job_src_ip = _text("Source MySQL host.")
    filter_job_src_port = serializers.IntegerField(
        required=False, min_value=1, max_value=65535, help_text="Source MySQL port.")
    filter_job_dest_ip = _text("Target MySQL host.")
    filter_job_dest_port = serializers.IntegerField(
        required=False, min_value=1, max_value=65535, help_text="Target MySQL port.")


class MonitorQuerySerializer(serializers.Serializer):
    """Which allocation's stats to read."""

    allocation_id = serializers.UUIDField(help_text="Allocation id.")
    task_name = _text("Task name (src or dest); checked against the allocation when given.")
    nomad_http_address = _text("Ignored; kept for dtle clients.")


class MySQLQuerySerializer(MySQLConnectionConfigSerializer):
    """Connection parameters of the MySQL inspection routes."""

    is_mysql_password_encrypted = serializers.BooleanField(
        required=False, default=False,
        help_text="mysql_password is base64 of RSA PKCS#1 v1.5 ciphertext.")

    def to_internal_value(self, data: object) -> object:
        # Query strings carry more than these fields (e.g. a browser's format); ignore extras.
        return serializers.Serializer.to_internal_value(self, data)


class MySQLColumnsQuerySerializer(MySQLQuerySerializer):
    """Connection parameters plus the table whose columns are wanted."""

    mysql_schema = serializers.RegexField(MYSQL_NAME, max_length=64, help_text="Schema name.",
                                          error_messages={"invalid": MYSQL_NAME_RULE})
    mysql_table = serializers.RegexField(MYSQL_NAME, max_length=64, help_text="Table name.",
                                         error_messages={"invalid": MYSQL_NAME_RULE})


class LogLevelSerializer(serializers.Serializer):
    """The new log level."""

    dtle_log_level = serializers.ChoiceField(
        choices=list(LOG_LEVELS), help_text="TRACE (same as DEBUG), DEBUG, INFO, WARN or ERROR.")


def wrapped_config_serializer(job_type: str) -> type[serializers.Serializer]:
    """The create request as the document shows it: the config under ``<type>_job_config``."""
    config = SubscriptionJobConfigSerializer if job_type == "subscription" else JobConfigSerializer
    attrs = {
        f"{job_type}_job_config": config(
            help_text="The job config. A bare config object as the whole body works too."),
        "__doc__": f"Create or update a {job_type} job.",
    }
    return type(f"{job_type.title()}JobRequestSerializer", (StrictSerializer,), attrs)


class ValidationRequestSerializer(StrictSerializer):
    """The config to validate, as for POST /v2/job/migration (a bare object works too)."""

    job_config = JobConfigSerializer(help_text="The job config to validate.")
