"""dtle's login: tokens on every /v2 route, expiry, forgery, throttling, the switch to turn it off."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, get_resolver
from rest_framework.test import APIClient

from accounts.tokens import _signing_key
from tests.support.auth import client_for, make_user, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_cache(settings: Any) -> None:
    """Failed-login counters in this process, empty for each test."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "auth-tests"}}
    cache.clear()


def v2_routes() -> list[str]:
    routes = []
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) == "v2/":
            routes += [f"/v2/{child.pattern}" for child in pattern.url_patterns
                       if isinstance(child, URLPattern)]
    return routes


def answers(client: APIClient, route: str) -> set[int]:
    return {client.get(route).status_code,
            client.post(route, {"job_id": "x-migration"}, format="json").status_code}


def test_every_v2_route_but_login_needs_a_token() -> None:
    routes = v2_routes()
    assert len(routes) >= 36
    refused = {route: answers(APIClient(), route) for route in routes}
    assert {route: codes for route, codes in refused.items() if codes != {401}} == {}
    response = APIClient().get("/v2/jobs")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["message"]


def forged(**claims: Any) -> str:
    payload = {"group": "platform", "name": "admin", "exp": int(time.time()) + 3600, "pwd": "x",
               **claims}
    return jwt.encode(payload, b"a key that is not the server's key at all", algorithm="HS256")


@pytest.mark.parametrize("kind", ["expired", "forged", "none-algorithm", "garbage"])
def test_bad_tokens_are_refused_on_every_route(kind: str) -> None:
    user = make_user("admin", superuser=True)
    good = jwt.decode(token_for(user), _signing_key(), algorithms=["HS256"])
    token = {
        "expired": jwt.encode({**good, "exp": int(time.time()) - 1}, _signing_key(), "HS256"),
        "forged": forged(pwd=good["pwd"]),
        "none-algorithm": jwt.encode(good, None, algorithm="none"),
        "garbage": "a.b.c",
    }[kind]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    refused = {route: answers(client, route) for route in v2_routes()}
    assert {route: codes for route, codes in refused.items() if codes != {401}} == {}


def test_a_token_is_taken_with_or_without_the_bearer_scheme() -> None:
    token = token_for(make_user("admin", superuser=True))
    for header in (f"Bearer {token}", f"bearer {token}", token):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/v2/jobs").status_code == 200, header


def login(client: APIClient, tenant: str, username: str, password: str, **kw: Any) -> Any:
    return client.post("/v2/login", {"tenant": tenant, "username": username,
                                     "password": password}, **kw)


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_login_answers_a_dtle_token(encoding: str) -> None:
    user = make_user("admin", superuser=True)
    kw = {"format": "json"} if encoding == "json" else {}
    response = login(APIClient(), "platform", "admin", user.plain_password, **kw)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["message"] == "ok"
    claims = jwt.decode(body["data"]["token"], options={"verify_signature": False})
    assert (claims["group"], claims["name"]) == ("platform", "admin")
    assert abs(claims["exp"] - time.time() - 24 * 3600) < 60
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['data']['token']}")
    assert client.get("/v2/nodes").status_code == 200


def test_the_token_lifetime_is_configurable(settings: Any) -> None:
    settings.TOKEN_TTL = 60
    user = make_user("admin", superuser=True)
    token = login(APIClient(), "platform", "admin", user.plain_password).json()["data"]["token"]
    assert jwt.decode(token, options={"verify_signature": False})["exp"] - time.time() < 61


@pytest.mark.parametrize(("tenant", "username", "password"), [
    ("platform", "admin", "wrong"), ("platform", "nobody", "x"), ("acme", "admin", None),
])
def test_wrong_credentials_answer_401(tenant: str, username: str, password: str | None) -> None:
    user = make_user("admin", superuser=True)
    response = login(APIClient(), tenant, username, password or user.plain_password)
    assert response.status_code == 401
    assert response.json() == {"message": "tenant, user or password is wrong"}


def test_a_user_logs_in_under_its_own_tenant_only() -> None:
    user = make_user("alice", tenant="acme")
    assert login(APIClient(), "acme", "alice", user.plain_password).status_code == 200
    assert login(APIClient(), "platform", "alice", user.plain_password).status_code == 401
    assert login(APIClient(), "other", "alice", user.plain_password).status_code == 401


def test_missing_login_fields_answer_400_naming_the_field() -> None:
    response = APIClient().post("/v2/login", {"tenant": "platform", "username": "a"},
                                format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("password:")


def test_repeated_wrong_passwords_are_throttled_per_user() -> None:
    user = make_user("admin", superuser=True)
    codes = [login(APIClient(), "platform", "admin", "guess").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    # Even the right password waits now, so guessing cannot go faster than the rate.
    response = login(APIClient(), "platform", "admin", user.plain_password)
    assert response.status_code == 429
    assert "too many failed logins" in response.json()["message"]
    other = make_user("bob", superuser=True)
    assert login(APIClient(), "platform", "bob", other.plain_password,
                 REMOTE_ADDR="10.0.0.9").status_code == 200


def test_repeated_wrong_passwords_are_throttled_per_client_address(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "login_user": "5/min", "login_address": "3/min"}}
    user = make_user("admin", superuser=True)
    codes = [login(APIClient(), "platform", f"user{n}", "guess", REMOTE_ADDR="10.0.0.7")
             .status_code for n in range(4)]
    assert codes == [401, 401, 401, 429]
    assert login(APIClient(), "platform", "admin", user.plain_password,
                 REMOTE_ADDR="10.0.0.7").status_code == 429
    assert login(APIClient(), "platform", "admin", user.plain_password,
                 REMOTE_ADDR="10.0.0.8").status_code == 200


def test_a_changed_password_or_a_deactivated_user_revokes_tokens() -> None:
    user = make_user("admin", superuser=True)
    client = client_for(user)
    assert client.get("/v2/jobs").status_code == 200
    user.set_password("another one")
    user.save()
    assert client.get("/v2/jobs").status_code == 401
    client = client_for(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get("/v2/jobs").status_code == 401


def test_auth_can_be_turned_off_for_a_single_user_machine(settings: Any) -> None:
    settings.AUTH_REQUIRED = False
    assert APIClient().get("/v2/jobs").status_code == 200
    assert APIClient().post("/v2/log/level", {"dtle_log_level": "INFO"}).status_code == 200


def test_metrics_and_health_stay_open_unless_a_metrics_token_is_set(settings: Any) -> None:
    client = Client()
    assert client.get("/metrics").status_code == 200
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="scrape-me").status_code == 200


def test_swagger_documents_the_bearer_scheme_and_the_login() -> None:
    schema = Client().get("/swagger/doc.json", HTTP_ACCEPT="application/json").json()
    scheme = schema["components"]["securitySchemes"]["dtleToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    login_op = schema["paths"]["/v2/login"]["post"]
    assert login_op.get("security") in (None, [], [{}])
    example = login_op["requestBody"]["content"]["application/json"]["examples"]
    assert next(iter(example.values()))["value"]["tenant"] == "platform"
    assert {"dtleToken": []} in schema["paths"]["/v2/jobs"]["get"]["security"]
