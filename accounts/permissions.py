"""Who may call a route: any logged-in user, plus the Django permission a view names.

Roles are Django groups holding the ``jobs`` app's model permissions (``operator`` and
``viewer`` are created by a migration; the admin makes more). A view names what it needs in
``required_permission``; superusers have every permission. With ``DTLE_AUTH_REQUIRED=false``
every request is let through.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import PLATFORM, tenant_of

VIEW_JOBS = "jobs.view_job"
CHANGE_JOBS = "jobs.change_job"
DELETE_JOBS = "jobs.delete_job"


class RolePermission(BasePermission):
    """A logged-in user holding the view's ``required_permission`` (and platform-only routes)."""

    message = "your role does not allow this"

    def has_permission(self, request: Request, view: Any) -> bool:
        if not settings.AUTH_REQUIRED:
            return True
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        if getattr(view, "platform_only", False) and tenant_of(user) != PLATFORM:
            return False
        needed = getattr(view, "required_permission", None)
        return needed is None or bool(user.has_perm(needed))


def tenant_scope(request: Request) -> str | None:
    """The tenant whose jobs a request may see, or None for every job (platform, or no login)."""
    if not settings.AUTH_REQUIRED:
        return None
    tenant = tenant_of(request.user)
    return None if tenant == PLATFORM else tenant


def owner_tenant(request: Request) -> str:
    """The tenant a job created by this request belongs to."""
    if not settings.AUTH_REQUIRED:
        return PLATFORM
    return tenant_of(request.user) or PLATFORM
