"""The URL map: dtle's /v2 routes (``jobs.urls``), Swagger, the schema, the admin, metrics and
health. Only the /v2 routes but login need a token; metrics may need DTLE_METRICS_TOKEN."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from accounts.login import LoginView
from jobs.health import health_view
from jobs.metrics import metrics_view

urlpatterns = [
    path("v2/login", LoginView.as_view(), name="login"),
    path("v2/", include("jobs.urls")),
    path("swagger/doc.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("swagger/index.html", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("health", health_view, name="health"),
]
