"""dtle's login tokens: HS256 JWTs with the claims ``group`` (tenant), ``name`` (user) and ``exp``.

The signing key is derived from ``DTLE_SECRET_KEY`` (HMAC-SHA256 over a fixed label), so the
Django secret itself never signs anything a client holds. A token also carries ``pwd``, a
fingerprint of the user's password hash: changing a password revokes the tokens issued before.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import jwt
from django.conf import settings

ALGORITHM = "HS256"
_KEY_LABEL = b"dtle-login-token-v1"


@dataclass(frozen=True)
class TokenClaims:
    tenant: str
    username: str
    expires_at: int
    password_fingerprint: str


class InvalidToken(Exception):
    """The token is malformed, forged, expired or lacks a claim."""


def _signing_key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def password_fingerprint(password_hash: str) -> str:
    """A short keyed digest of a stored password hash (never the hash itself)."""
    return hmac.new(_signing_key(), password_hash.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def issue_token(tenant: str, username: str, password_hash: str) -> str:
    now = int(time.time())
    claims = {"group": tenant, "name": username, "iat": now, "exp": now + settings.TOKEN_TTL,
              "pwd": password_fingerprint(password_hash)}
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM)


def read_token(token: str) -> TokenClaims:
    """The claims of a valid token; ``InvalidToken`` for anything else."""
    try:
        claims = jwt.decode(token, _signing_key(), algorithms=[ALGORITHM],
                            options={"require": ["exp", "group", "name", "pwd"]})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the token has expired; log in again") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("the token is not valid; log in again") from exc
    fields = (claims["group"], claims["name"], claims["pwd"])
    if not all(isinstance(value, str) for value in fields):
        raise InvalidToken("the token is not valid; log in again")
    return TokenClaims(claims["group"], claims["name"], int(claims["exp"]), claims["pwd"])
