"""The /v2 routes about things other than a job's lifecycle: validation, monitor, nodes,
MySQL inspection and the log level."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import CHANGE_JOBS, VIEW_JOBS, tenant_scope
from jobs import queries
from jobs.errors import BadRequest, first_message
from jobs.models import Node
from jobs.presenters import node_summary
from jobs.serializers import MySQLConnectionConfigSerializer, answers, api, config_serializer_class
from jobs.views import request_params, unwrap_config, validated
from replication.config import MySQLConnectionConfig
from replication.crypto import decrypt_password
from replication.errors import ConfigError

_MESSAGE = api.MessageSerializer


def _validation_answer(config: dict[str, Any]) -> dict[str, Any]:
    """Validate the config's schema, then its servers; schema errors are reported, not raised."""
    dest = config.get("dest_task")
    job_type = "subscription" if isinstance(dest, dict) and "kafka_broker_addrs" in dest else ""
    serializer = config_serializer_class(job_type)(data=config)
    answer: dict[str, Any] = {"driver_config_validated": serializer.is_valid(),
                              "mysql_task_validation_report": [],
                              "job_validation_error": "", "job_validation_warning": "",
                              "message": "ok"}
    if answer["driver_config_validated"]:
        answer["mysql_task_validation_report"] = queries.validate_job(serializer.validated_data)
    else:
        answer["job_validation_error"] = first_message(serializer.errors)
    return answer


class JobValidationView(APIView):
    """Check a job config and its MySQL servers before creating the job."""

    required_permission = CHANGE_JOBS

    @extend_schema(
        parameters=[OpenApiParameter("job_config", str, description=(
            "The job config as JSON (as for POST /v2/job/migration); a JSON body works too."))],
        request=None,
        responses={200: answers.ValidationAnswerSerializer, 400: _MESSAGE})
    def get(self, request: Request) -> Response:
        return self.post(request)

    # Forms carry the config as a JSON string in the wrapper field; documented as JSON only.
    @extend_schema(request={"application/json": api.ValidationRequestSerializer},
                   responses={200: answers.ValidationAnswerSerializer, 400: _MESSAGE})
    def post(self, request: Request) -> Response:
        config = unwrap_config(request_params(request), ("job_config", "migration_job_config",
                                                  "sync_job_config", "subscription_job_config"))
        return Response(_validation_answer(config))


class MonitorTaskView(APIView):
    """A task's replication stats (coordinates, delay, progress, backlog, stage)."""

    required_permission = VIEW_JOBS

    @extend_schema(parameters=[api.MonitorQuerySerializer],
                   responses={200: answers.MonitorAnswerSerializer, 400: _MESSAGE,
                              404: _MESSAGE})
    def get(self, request: Request) -> Response:
        params = validated(api.MonitorQuerySerializer, request.query_params)
        record = queries.monitor_task(str(params["allocation_id"]), params["task_name"],
                                      tenant_scope(request))
        return Response({"tasks_status": record, "message": "ok"})


class NodesView(APIView):
    """The worker nodes."""

    @extend_schema(responses={200: answers.NodesAnswerSerializer})
    def get(self, request: Request) -> Response:
        return Response({"nodes": [node_summary(n) for n in Node.objects.all()], "message": "ok"})


def connection_params(params: dict[str, Any]) -> MySQLConnectionConfig:
    """The connection config of a MySQL route, decrypting an RSA-encrypted password."""
    password = params["mysql_password"]
    if params["is_mysql_password_encrypted"]:
        try:
            password = decrypt_password(password, settings.RSA_PRIVATE_KEY_PATH)
        except ConfigError as exc:
            raise BadRequest(f"mysql_password: {exc}") from exc
    fields = {name: params[name] for name in MySQLConnectionConfigSerializer().fields.keys()}
    return MySQLConnectionConfig(**{**fields, "mysql_password": password})


_MYSQL_ERRORS = {400: _MESSAGE, 502: _MESSAGE}


class MySQLSchemasView(APIView):
    """The schemas and base tables of a MySQL instance."""

    required_permission = CHANGE_JOBS

    @extend_schema(parameters=[api.MySQLQuerySerializer],
                   responses={200: answers.SchemasAnswerSerializer, **_MYSQL_ERRORS})
    def get(self, request: Request) -> Response:
        cfg = connection_params(validated(api.MySQLQuerySerializer, request_params(request)))
        return Response({"schemas": queries.mysql_schemas(cfg), "message": "ok"})


class MySQLColumnsView(APIView):
    """The columns of one table."""

    required_permission = CHANGE_JOBS

    @extend_schema(parameters=[api.MySQLColumnsQuerySerializer],
                   responses={200: answers.ColumnsAnswerSerializer, 404: _MESSAGE, **_MYSQL_ERRORS})
    def get(self, request: Request) -> Response:
        params = validated(api.MySQLColumnsQuerySerializer, request_params(request))
        columns = queries.mysql_columns(
            connection_params(params), params["mysql_schema"], params["mysql_table"])
        return Response({"columns": columns, "message": "ok"})


class MySQLConnectionView(APIView):
    """Whether a MySQL instance accepts the given login."""

    required_permission = CHANGE_JOBS

    @extend_schema(parameters=[api.MySQLQuerySerializer],
                   responses={200: _MESSAGE, **_MYSQL_ERRORS})
    def get(self, request: Request) -> Response:
        queries.mysql_connection(
            connection_params(validated(api.MySQLQuerySerializer, request_params(request))))
        return Response({"message": "ok"})


class LogLevelView(APIView):
    """Change the log level of every process at once (platform tenant only)."""

    platform_only = True

    @extend_schema(request=api.LogLevelSerializer,
                   responses={200: answers.LogLevelAnswerSerializer, 400: _MESSAGE})
    def post(self, request: Request) -> Response:
        level = validated(api.LogLevelSerializer, request_params(request))["dtle_log_level"]
        return Response({"dtle_log_level": queries.set_log_level(level), "message": "ok"})
