"""Read-mostly admin pages for the job store; configs are shown with passwords masked."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from jobs.models import Allocation, Job, Node, Task, TaskEvent
from jobs.secrets import masked_config


class ReadMostlyAdmin(admin.ModelAdmin):
    """No adding or editing through the admin: the /v2 API and the workers own these rows."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TaskInline(admin.TabularInline):
    """A job's two tasks."""

    model = Task
    extra = 0
    can_delete = False
    fields = ("kind", "task_name", "status", "current_allocation", "restarts", "last_error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadMostlyAdmin):
    """Jobs; deleting here skips the transport cleanup, so use POST /v2/job/delete instead."""

    list_display = ("job_id", "job_name", "tenant", "job_type", "status", "desired_state",
                    "version", "updated_at")
    list_filter = ("tenant", "job_type", "status", "desired_state")
    search_fields = ("job_id", "job_name")
    exclude = ("config",)
    readonly_fields = ("job_id", "job_name", "tenant", "job_type", "failover", "desired_state", "status",
                       "status_description", "masked_config", "version", "create_index",
                       "modify_index", "created_at", "updated_at")
    inlines = (TaskInline,)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="config")
    def masked_config(self, obj: Job) -> str:
        return format_html("<pre>{}</pre>", json.dumps(masked_config(obj.config), indent=2))


@admin.register(Task)
class TaskAdmin(ReadMostlyAdmin):
    """Tasks of all jobs."""

    list_display = ("job", "kind", "task_name", "status", "restarts", "next_attempt_at")
    list_filter = ("kind", "status")
    search_fields = ("job__job_id",)


@admin.register(Allocation)
class AllocationAdmin(ReadMostlyAdmin):
    """Placements of tasks on nodes."""

    list_display = ("allocation_id", "task", "node", "status", "job_version", "started_at",
                    "finished_at")
    list_filter = ("status",)
    search_fields = ("allocation_id", "task__job__job_id")


@admin.register(TaskEvent)
class TaskEventAdmin(ReadMostlyAdmin):
    """Events of allocations."""

    list_display = ("time", "allocation", "event_type", "message", "setup_error")
    list_filter = ("event_type",)


@admin.register(Node)
class NodeAdmin(ReadMostlyAdmin):
    """Worker nodes; a node that stopped for good may be deleted here."""

    list_display = ("node_id", "node_name", "node_address", "datacenter", "status",
                    "last_heartbeat")
    list_filter = ("status", "datacenter")
