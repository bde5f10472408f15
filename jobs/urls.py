"""dtle's /v2 routes, listed in the order of the API document."""

from __future__ import annotations

from django.urls import path  # noqa: F401

urlpatterns: list = []
