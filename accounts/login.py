"""``POST /v2/login``: dtle's login, answering ``{"message": "ok", "data": {"token": ...}}``.

Wrong credentials answer 401 with one sentence that does not say which part was wrong. Only
failed attempts are counted, per user (tenant and name) and per client address, with DRF's
throttle rates ``login_user`` and ``login_address`` (``DTLE_LOGIN_FAILURES_PER_USER`` /
``_PER_ADDRESS``); past either, every attempt answers 429 until the window has moved on, so a
password cannot be guessed faster than the rate even when the right one is among the guesses.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from accounts.models import tenant_of
from accounts.tokens import issue_token
from jobs.serializers.api import MessageSerializer


class LoginSerializer(serializers.Serializer):
    """The credentials of a user of a tenant."""

    tenant = serializers.CharField(max_length=64, help_text="Tenant; platform for administrators.")
    username = serializers.CharField(max_length=150, help_text="User name.")
    password = serializers.CharField(max_length=1024, trim_whitespace=False,
                                     style={"input_type": "password"}, help_text="Password.")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'.")


class LoginAnswerSerializer(serializers.Serializer):
    """The token for the other routes."""

    data = TokenSerializer()
    message = serializers.CharField()


class FailedLoginThrottle(SimpleRateThrottle):
    """Counts failed logins only: ``allow_request`` checks, ``record_failure`` counts."""

    def get_rate(self) -> str | None:
        return str(api_settings.DEFAULT_THROTTLE_RATES[self.scope])  # read now, not at import

    def throttle_success(self) -> bool:
        return True  # checking does not count; a failure does, through record_failure

    def record_failure(self) -> None:
        if self.key is not None:
            self.history.insert(0, self.now)
            self.cache.set(self.key, self.history, self.duration)


class FailedLoginByUser(FailedLoginThrottle):
    scope = "login_user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data if hasattr(request.data, "get") else {}
        name = f"{data.get('tenant', '')}/{data.get('username', '')}"
        digest = hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()  # any text, short key
        return self.cache_format % {"scope": self.scope, "ident": digest}


class FailedLoginByAddress(FailedLoginThrottle):
    scope = "login_address"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


_EXAMPLE = OpenApiExample("login", value={"tenant": "platform", "username": "admin",
                                          "password": "your password"}, request_only=True)


class LoginView(APIView):
    """Log in; the token goes in ``Authorization: Bearer <token>`` on every other route."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="dtle"'  # so a wrong password answers 401, not 403

    @extend_schema(request=LoginSerializer, examples=[_EXAMPLE], auth=[],
                   responses={200: LoginAnswerSerializer, 400: MessageSerializer,
                              401: MessageSerializer, 429: MessageSerializer},
                   summary="Log in and get a token")
    def post(self, request: Request) -> Response:
        throttles = [FailedLoginByUser(), FailedLoginByAddress()]
        waits = [t.wait() or 0 for t in throttles if not t.allow_request(request, self)]
        if waits:
            throttled = Throttled(wait=max(waits))  # the wait also goes out as Retry-After
            throttled.detail = f"too many failed logins; try again in {math.ceil(max(waits))} s"
            raise throttled
        credentials = LoginSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        given = credentials.validated_data
        user = authenticate(request._request, username=given["username"],
                            password=given["password"])
        if user is None or tenant_of(user) != given["tenant"]:
            for throttle in throttles:
                throttle.record_failure()
            raise AuthenticationFailed("tenant, user or password is wrong")
        token = issue_token(given["tenant"], user.get_username(), user.password)
        return Response({"message": "ok", "data": {"token": token}}, status=status.HTTP_200_OK)
