"""The /v2 routes. Each view validates its input, calls one use case and returns its answer."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import CHANGE_JOBS, DELETE_JOBS, VIEW_JOBS, owner_tenant, tenant_scope
from jobs import presenters, queries, services
from jobs.errors import BadRequest
from jobs.serializers import answers, api, config_serializer_class

OK = {"message": "ok"}


def request_params(request: Request) -> Any:
    """Form or JSON body fields, falling back to the query string (dtle clients use both)."""
    return request.data if request.data else request.query_params


def unwrap_config(body: Any, wrappers: tuple[str, ...]) -> Any:
    """The config object of a request: under one of ``wrappers`` or the bare body itself."""
    if hasattr(body, "dict"):  # a form: the config is a JSON string in a wrapper field
        body = body.dict()
    if isinstance(body, dict):
        for key in wrappers:
            if key in body:
                extra = sorted(set(body) - {key})
                if extra:
                    raise BadRequest(f"{extra[0]}: unknown field")
                body = body[key]
                break
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise BadRequest(f"{wrappers[0]}: not a JSON object") from exc
    if not isinstance(body, dict):
        raise BadRequest(f"{wrappers[0]}: a JSON object is required")
    return body


def validated(serializer_class: type, data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class JobCreateView(APIView):
    """Create or update a job of ``job_type`` (create on an existing id updates it)."""

    job_type = "migration"
    required_permission = CHANGE_JOBS

    def post(self, request: Request, **_: Any) -> Response:
        body = unwrap_config(request.data, (f"{self.job_type}_job_config", "job_config"))
        data = validated(config_serializer_class(self.job_type), body)
        job = services.create_or_update_job(self.job_type, data, owner_tenant(request),
                                            tenant_scope(request))
        return Response(presenters.create_answer(job))


def create_view(job_type: str) -> type[JobCreateView]:
    """A create view class for one type, with its own request schema."""
    view = type(f"{job_type.title()}JobCreateView", (JobCreateView,), {"job_type": job_type})
    return extend_schema(
        # Forms carry the config as a JSON string in the wrapper field; documented as JSON only.
        request={"application/json": api.wrapped_config_serializer(job_type)},
        responses={200: (answers.SubscriptionCreateAnswerSerializer if job_type == "subscription"
                         else answers.CreateAnswerSerializer), 400: api.MessageSerializer,
                   409: api.MessageSerializer},
        summary=f"Create or update a {job_type} job",
    )(view)


class JobActionView(APIView):
    """Pause, resume or delete a job (form or JSON field ``job_id``)."""

    job_type: str | None = None
    action: str = "pause"

    @property
    def required_permission(self) -> str:
        return DELETE_JOBS if self.action == "delete" else CHANGE_JOBS

    @extend_schema(
        request=api.JobIdSerializer,
        responses={200: api.MessageSerializer, 400: api.MessageSerializer,
                   404: api.MessageSerializer, 409: api.MessageSerializer},
    )
    def post(self, request: Request, **_: Any) -> Response:
        job_id = validated(api.JobIdSerializer, request_params(request))["job_id"]
        ACTIONS[self.action](job_id, self.job_type, tenant_scope(request))
        return Response(OK)


ACTIONS = {
    "pause": services.pause_job,
    "resume": services.resume_job,
    "delete": services.delete_job,
}


class JobListView(APIView):
    """List jobs, filtered."""

    job_type: str | None = None
    required_permission = VIEW_JOBS

    @extend_schema(parameters=[api.JobListQuerySerializer],
                   responses={200: answers.JobListAnswerSerializer, 400: api.MessageSerializer})
    def get(self, request: Request, **_: Any) -> Response:
        filters = validated(api.JobListQuerySerializer, request.query_params)
        if self.job_type:
            filters["filter_job_type"] = self.job_type
        jobs = services.list_jobs(filters, tenant_scope(request))
        return Response({"jobs": [presenters.job_summary(j) for j in jobs], "message": "ok"})


class JobDetailView(APIView):
    """A job's tasks, allocations, events and config."""

    job_type: str | None = None
    required_permission = VIEW_JOBS

    @extend_schema(parameters=[api.JobIdSerializer],
                   responses={200: answers.JobDetailAnswerSerializer, 400: api.MessageSerializer,
                              404: api.MessageSerializer, 409: api.MessageSerializer})
    def get(self, request: Request, **_: Any) -> Response:
        job_id = validated(api.JobIdSerializer, request.query_params)["job_id"]
        job = services.get_job(job_id, self.job_type, tenant_scope(request))
        return Response(presenters.job_detail(job))


class JobGtidView(APIView):
    """The executed GTID set a job has applied."""

    required_permission = VIEW_JOBS

    @extend_schema(parameters=[api.JobIdSerializer],
                   responses={200: answers.GtidAnswerSerializer, 400: api.MessageSerializer,
                              404: api.MessageSerializer})
    def get(self, request: Request) -> Response:
        job_id = validated(api.JobIdSerializer, request.query_params)["job_id"]
        return Response({"gtid": queries.job_gtid(job_id, tenant_scope(request)), "message": "ok"})
