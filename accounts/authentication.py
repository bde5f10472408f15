"""How the /v2 routes know who calls: ``Authorization: Bearer <token>`` or the bare token.

dtle's own clients send both forms (dtle rewrites a bare token into the Bearer form), so both
are accepted. A token is good only while its user exists, is active, still belongs to the
token's tenant and has not changed its password since the token was issued.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.models import tenant_of
from accounts.tokens import InvalidToken, TokenClaims, password_fingerprint, read_token

SCHEME = "Bearer"


def token_from_header(header: str) -> str:
    """The token in an Authorization header value, with or without the Bearer scheme."""
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() == SCHEME.lower():
        return parts[1]
    if len(parts) == 1:
        return parts[0]
    raise AuthenticationFailed("Authorization: expected 'Bearer <token>'")


class TokenAuthentication(BaseAuthentication):
    """Authenticates a request by its dtle login token."""

    def authenticate(self, request: Request) -> tuple[Any, TokenClaims] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        try:
            claims = read_token(token_from_header(header))
        except InvalidToken as exc:
            raise AuthenticationFailed(str(exc)) from exc
        user = get_user_model().objects.filter(username=claims.username, is_active=True).first()
        if user is None or tenant_of(user) != claims.tenant or not hmac.compare_digest(
                password_fingerprint(user.password), claims.password_fingerprint):
            raise AuthenticationFailed("the token's user no longer exists, left its tenant or "
                                       "changed its password; log in again")
        return user, claims

    def authenticate_header(self, request: Request) -> str:
        # Answering 401 (not 403) for a missing token needs a challenge to name.
        return f'{SCHEME} realm="dtle"'


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Swagger shows the bearer scheme and an Authorize button for the token."""

    target_class = "accounts.authentication.TokenAuthentication"
    name = "dtleToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "The token of POST /v2/login. dtle clients may also send the "
                               "bare token as the Authorization header."}
