"""Users, tenants and logged-in API clients for the tests."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from accounts.models import Membership, Tenant, tenant_of
from accounts.tokens import issue_token


def make_user(username: str, tenant: str | None = None, role: str = "operator",
              superuser: bool = False) -> User:
    """A user with a random password (``user.plain_password``), in ``tenant`` with ``role``."""
    password = secrets.token_urlsafe(12)
    if superuser:
        user = User.objects.create_superuser(username, "", password)
    else:
        user = User.objects.create_user(username, "", password)
        user.groups.add(Group.objects.get(name=role))
    if tenant is not None:
        Tenant.objects.get_or_create(name=tenant)
        Membership.objects.create(user=user, tenant_id=tenant)
    user.plain_password = password  # type: ignore[attr-defined]
    return user


def token_for(user: User) -> str:
    tenant = tenant_of(user)
    assert tenant is not None, f"{user} has no tenant"
    return issue_token(tenant, user.get_username(), user.password)


def client_for(user: User) -> APIClient:
    """An API client that sends the user's login token on every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client
