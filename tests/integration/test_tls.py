"""TLS to MySQL: every engine connection honours the mysql_ssl_* options of its config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from replication.config import MySQLConnectionConfig
from replication.errors import ConnectError
from replication.mysql import connect
from scripts.mariadb_sandbox import MariaDBServer
from scripts.tls_certs import TLSFiles, make_tls_files
from tests.support.api_examples import MIGRATION_REQUEST, pointed_at

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(tls_files: TLSFiles) -> Iterator[MariaDBServer]:
    """A MariaDB that refuses connections without TLS."""
    with MariaDBServer(server_id=111, tls=tls_files) as server:
        yield server


def config(server: MariaDBServer, host: str = "127.0.0.1", **tls: Any) -> MySQLConnectionConfig:
    return MySQLConnectionConfig(host, server.port, "root", "", **tls)


def cipher(cfg: MySQLConnectionConfig) -> str:
    conn = connect(cfg)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            return str(cur.fetchone()[1])
    finally:
        conn.close()


def test_the_ca_option_connects_over_verified_tls(tls_server: MariaDBServer,
                                                  tls_files: TLSFiles) -> None:
    assert cipher(config(tls_server, mysql_ssl_ca=str(tls_files.ca)))
    assert cipher(config(tls_server, mysql_ssl_ca=str(tls_files.ca),
                         mysql_ssl_cert=str(tls_files.client_cert),
                         mysql_ssl_key=str(tls_files.client_key)))


def test_the_server_refuses_a_connection_without_tls(tls_server: MariaDBServer) -> None:
    with pytest.raises(ConnectError, match="Access denied"):
        connect(config(tls_server), ssl_disabled=True)


def test_a_wrong_ca_is_refused_with_the_reason(tls_server: MariaDBServer,
                                               tls_files: TLSFiles) -> None:
    with pytest.raises(ConnectError) as caught:
        connect(config(tls_server, mysql_ssl_ca=str(tls_files.other_ca)))
    assert "TLS: the server's certificate was not accepted" in str(caught.value)
    assert "check mysql_ssl_ca" in str(caught.value)


def test_verify_identity_checks_the_host_name(tls_server: MariaDBServer,
                                              tls_files: TLSFiles) -> None:
    ca = str(tls_files.ca)
    with pytest.raises(ConnectError, match="mismatch"):
        connect(config(tls_server, mysql_ssl_ca=ca, mysql_ssl_verify_identity=True))
    # The certificate names localhost only; unchecked, 127.0.0.1 is accepted.
    assert cipher(config(tls_server, mysql_ssl_ca=ca))
    assert cipher(config(tls_server, "localhost", mysql_ssl_ca=ca, mysql_ssl_verify_identity=True))


def test_a_missing_ca_file_is_named(tls_server: MariaDBServer, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ca.pem"
    with pytest.raises(ConnectError, match=f"TLS: cannot read {missing} on this host"):
        connect(config(tls_server, mysql_ssl_ca=str(missing)))


def validation(client: APIClient, source: MariaDBServer, target: MariaDBServer,
               ca: Path) -> list[dict[str, Any]]:
    src = {**source.connection_config(), "mysql_ssl_ca": str(ca)}
    body = pointed_at(MIGRATION_REQUEST, src, target.connection_config())
    response = client.post("/v2/validation/job", {"job_config": body}, format="json")
    assert response.status_code == 200, response.json()
    return list(response.json()["mysql_task_validation_report"])


def test_validation_passes_with_the_right_ca_and_fails_clearly_with_a_wrong_one(
        api_client: APIClient, tls_server: MariaDBServer, target_server: MariaDBServer,
        tls_files: TLSFiles) -> None:
    good = validation(api_client, tls_server, target_server, tls_files.ca)[0]
    assert good["connection_validation"] == {"validated": True, "error": ""}
    assert good["binlog_validation"]["validated"] is True
    bad = validation(api_client, tls_server, target_server, tls_files.other_ca)[0]
    assert bad["connection_validation"]["validated"] is False
    assert "TLS: the server's certificate was not accepted" in bad["connection_validation"]["error"]


def test_the_inspection_routes_take_the_tls_options(api_client: APIClient,
                                                    tls_server: MariaDBServer,
                                                    tls_files: TLSFiles) -> None:
    params = {**tls_server.connection_config(), "mysql_ssl_ca": str(tls_files.ca)}
    assert api_client.get("/v2/mysql/instance_connection", params).status_code == 200
    params["mysql_ssl_ca"] = str(tls_files.other_ca)
    response = api_client.get("/v2/mysql/instance_connection", params)
    assert response.status_code == 502
    assert "certificate was not accepted" in response.json()["message"]
