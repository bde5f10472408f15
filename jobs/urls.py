"""dtle's /v2 routes, listed in the order of the API document, then the later 3.x aliases."""

from __future__ import annotations

from django.urls import URLPattern, path

from jobs.views import JobActionView, JobDetailView, JobGtidView, JobListView, create_view
from jobs.views_runtime import (
    JobValidationView,
    LogLevelView,
    MonitorTaskView,
    MySQLColumnsView,
    MySQLConnectionView,
    MySQLSchemasView,
    NodesView,
)

JOB_TYPES = ("migration", "sync", "subscription")
CREATE_VIEWS = {job_type: create_view(job_type).as_view() for job_type in JOB_TYPES}

urlpatterns: list[URLPattern] = [
    path("job/migration", CREATE_VIEWS["migration"], name="job-migration"),
    path("job/sync", CREATE_VIEWS["sync"], name="job-sync"),
    path("job/subscription", CREATE_VIEWS["subscription"], name="job-subscription"),
    path("job/pause", JobActionView.as_view(action="pause"), name="job-pause"),
    path("job/resume", JobActionView.as_view(action="resume"), name="job-resume"),
    path("job/delete", JobActionView.as_view(action="delete"), name="job-delete"),
    path("jobs", JobListView.as_view(), name="jobs"),
    path("job/migration/detail", JobDetailView.as_view(job_type="migration"),
         name="job-migration-detail"),
    path("job/sync/detail", JobDetailView.as_view(job_type="sync"), name="job-sync-detail"),
    path("job/subscription/detail", JobDetailView.as_view(job_type="subscription"),
         name="job-subscription-detail"),
    path("validation/job", JobValidationView.as_view(), name="validation-job"),
    path("monitor/task", MonitorTaskView.as_view(), name="monitor-task"),
    path("nodes", NodesView.as_view(), name="nodes"),
    path("mysql/schemas", MySQLSchemasView.as_view(), name="mysql-schemas"),
    path("log/level", LogLevelView.as_view(), name="log-level"),
    # Aliases used by later dtle 3.x clients.
    path("job/gtid", JobGtidView.as_view(), name="job-gtid"),
    path("mysql/columns", MySQLColumnsView.as_view(), name="mysql-columns"),
    path("mysql/instance_connection", MySQLConnectionView.as_view(),
         name="mysql-instance-connection"),
]

for _type in JOB_TYPES:
    urlpatterns += [
        path(f"job/{_type}/create", CREATE_VIEWS[_type], name=f"job-{_type}-create"),
        path(f"job/{_type}/update", CREATE_VIEWS[_type], name=f"job-{_type}-update"),
        *(
            path(f"job/{_type}/{action}", JobActionView.as_view(action=action, job_type=_type),
                 name=f"job-{_type}-{action}")
            for action in ("pause", "resume", "delete")
        ),
        path(f"jobs/{_type}", JobListView.as_view(job_type=_type), name=f"jobs-{_type}"),
    ]
