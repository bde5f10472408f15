"""Helpers of the security end-to-end tests: admin pages over HTTP, Redis and general-log dumps."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from sqlglot.dialects.mysql import MySQL
from sqlglot.tokens import TokenType

from scripts.cluster import Cluster
from scripts.mariadb_sandbox import MariaDBServer

ADMIN_PAGES = ("/admin/", "/admin/jobs/job/", "/admin/jobs/task/", "/admin/jobs/allocation/",
               "/admin/jobs/taskevent/", "/admin/jobs/node/", "/admin/accounts/tenant/",
               "/admin/auth/user/")


def admin_pages(cluster: Cluster, job_ids: list[str]) -> dict[str, str]:
    """Log into the Django admin as the cluster's superuser and read its pages."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_url = f"{cluster.base_url}/admin/login/"
    form = opener.open(login_url).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token is not None
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), "next": "/admin/",
                                   "username": cluster.admin_user,
                                   "password": cluster.admin_password}).encode()
    request = urllib.request.Request(login_url, data=data, headers={"Referer": login_url})
    assert "Log out" in opener.open(request).read().decode()
    pages = [*ADMIN_PAGES, *(f"/admin/jobs/job/{job_id}/change/" for job_id in job_ids)]
    return {page: opener.open(cluster.base_url + page).read().decode() for page in pages}


def redis_dump(url: str) -> str:
    """Every value of every key in the cluster's Redis database, as text."""
    client = redis.Redis.from_url(url)
    parts: list[str] = []
    for key in client.scan_iter(count=500):
        kind = client.type(key).decode()
        if kind == "string":
            parts.append(repr(client.get(key)))
        elif kind == "hash":
            parts.append(repr(client.hgetall(key)))
        elif kind == "list":
            parts.append(repr(client.lrange(key, 0, -1)))
        elif kind == "set":
            parts.append(repr(client.smembers(key)))
        elif kind == "zset":
            parts.append(repr(client.zrange(key, 0, -1)))
        elif kind == "stream":
            parts.append(repr(client.xrange(key)))
    return "\n".join(parts)


@contextmanager
def general_log(*servers: MariaDBServer) -> Iterator[dict[MariaDBServer, list[str]]]:
    """Log every statement the servers run while the block runs; the statements, per server."""
    logged: dict[MariaDBServer, list[str]] = {}
    for server in servers:
        server.execute("SET GLOBAL general_log = 0")
        server.execute("SET GLOBAL log_output = 'TABLE'")
        server.execute("TRUNCATE mysql.general_log")
        server.execute("SET GLOBAL general_log = 1")
    try:
        yield logged
    finally:
        for server in servers:
            server.execute("SET GLOBAL general_log = 0")
            rows = server.execute("SELECT argument FROM mysql.general_log "
                                  "WHERE command_type IN ('Query', 'Execute')")
            logged[server] = [bytes(r[0]).decode("utf-8", "replace")
                              if isinstance(r[0], (bytes, bytearray)) else str(r[0])
                              for r in rows]
            server.execute("TRUNCATE mysql.general_log")


def unquoted_uses(statement: str, word: str) -> list[str]:
    """Tokens of ``statement`` holding ``word`` outside a quoted name or a string literal.

    A crafted name that broke out of its quotes shows up here as a bare keyword or name."""
    safe = {TokenType.IDENTIFIER, TokenType.STRING, TokenType.NATIONAL_STRING,
            TokenType.HEX_STRING, TokenType.BIT_STRING}
    return [token.text for token in MySQL().tokenize(statement)
            if word.lower() in token.text.lower() and token.token_type not in safe]


def names_holding(statement: str, word: str) -> list[str]:
    """Names (quoted or bare) in ``statement`` that hold ``word``; text inside string literals
    (a checkpoint row that records a crafted name, say) does not count."""
    strings = {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.HEX_STRING,
               TokenType.BIT_STRING}
    return [token.text for token in MySQL().tokenize(statement)
            if word.lower() in token.text.lower() and token.token_type not in strings]
