"""Tenants and which tenant a user belongs to. Roles are Django groups holding job permissions.

A user belongs to at most one tenant (``Membership``). A superuser without a membership belongs
to ``platform``, the tenant whose users see every job (as in dtle 4.x). User names are Django's,
so they are unique across tenants; the tenant given at login must be the user's.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

PLATFORM = "platform"


class Tenant(models.Model):
    """A group of users who see and change only their own jobs (``platform`` sees all)."""

    name = models.CharField(max_length=64, primary_key=True)
    description = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """The tenant of one user."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="membership")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="members")

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.user}"


def tenant_of(user: object) -> str | None:
    """The tenant name of a user: its membership, else ``platform`` for a superuser, else None."""
    try:
        return str(user.membership.tenant_id)  # type: ignore[attr-defined]
    except (Membership.DoesNotExist, AttributeError):
        return PLATFORM if getattr(user, "is_superuser", False) else None
