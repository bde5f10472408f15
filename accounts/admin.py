"""Tenants in the admin, and each user's tenant on the user's page."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.models import Membership, Tenant, tenant_of


class MembershipInline(admin.StackedInline):
    """The user's tenant (none: platform for a superuser, no access otherwise)."""

    model = Membership
    can_delete = True
    extra = 0
    max_num = 1


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """Tenants; one with jobs or users cannot be deleted."""

    list_display = ("name", "description")
    search_fields = ("name",)


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class TenantUserAdmin(UserAdmin):
    """Django's user page with the tenant; roles are the user's groups."""

    inlines = (MembershipInline,)
    list_display = ("username", "tenant", "is_active", "is_superuser", "last_login")

    @admin.display(description="tenant")
    def tenant(self, obj: object) -> str:
        return tenant_of(obj) or "-"
