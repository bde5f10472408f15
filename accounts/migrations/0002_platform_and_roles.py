"""The platform tenant and two roles: operator (every job action) and viewer (read only)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "operator": ("view_job", "add_job", "change_job", "delete_job"),
    "viewer": ("view_job",),
}


def forwards(apps: Any, schema_editor: Any) -> None:
    apps.get_model("accounts", "Tenant").objects.get_or_create(
        name="platform", defaults={"description": "Administrators: see every job"})
    # Permissions are normally made after all migrations; the roles need them now.
    jobs_app = apps.get_app_config("jobs")
    jobs_app.models_module = True
    create_permissions(jobs_app, apps=apps, verbosity=0)
    jobs_app.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.set(permission_model.objects.filter(
            content_type__app_label="jobs", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("jobs", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
