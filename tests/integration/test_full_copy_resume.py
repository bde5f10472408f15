"""A full copy stopped part way and resumed in a new snapshot, while the source changed in
between: the target must end equal to the source."""

from __future__ import annotations

import redis

from replication.mysql import connect
from replication.runners import DestRunner, SrcRunner
from replication.sinks.mysql.snapshot_checkpoint import load_snapshot_resume
from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import wait_equal
from tests.support.incremental import conn_cfg, make_job, start_runner

ROWS = 200


def _copied_chunks(target: MariaDBServer, job_id: str, schema: str) -> int:
    tables = load_snapshot_resume(lambda: connect(conn_cfg(target)), job_id).tables
    return tables[(schema, "t")].seq if (schema, "t") in tables else 0


def test_a_row_whose_key_moved_past_the_resume_point_keeps_its_unique_value(
        source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
        job_id: str, fresh_schema: str) -> None:
    """The first run copies the first chunk (ids 1-10, u = 'u1'...); then the source gives the
    row of id 1 the id 1000, beyond the resume point, keeping its unique ``u``. The resumed
    read, in a new snapshot, copies (1000, 'u1') while the target still holds (1, 'u1') until
    the binlog from the first snapshot is replayed."""
    s = fresh_schema
    source_server.execute(f"CREATE DATABASE `{s}`")
    source_server.execute(f"CREATE TABLE `{s}`.t (id INT PRIMARY KEY, u VARCHAR(10) NOT NULL, "
                          "v INT, UNIQUE KEY uq (u))")
    source_server.execute(f"INSERT INTO `{s}`.t SELECT seq, CONCAT('u', seq), seq "
                          f"FROM `{s}`.seq_1_to_{ROWS}")
    # Ten rows a chunk, and a stream of two messages: with no dest, the src waits after the
    # table's message and its first chunk.
    job = make_job(job_id, source_server, target_server, s, chunk_size=10, repl_chan_buffer_size=2)
    src = start_runner(SrcRunner, job, redis_client)
    wait_for(lambda: redis_client.xlen(f"dtle:stream:{job_id}") >= 2, 30, "the first chunk")
    src.stop()
    dest = start_runner(DestRunner, job, redis_client)
    wait_for(lambda: _copied_chunks(target_server, job_id, s) >= 1, 30, "the first chunk applied")
    dest.stop()
    assert _copied_chunks(target_server, job_id, s) < ROWS // 10, "the copy was to stop part way"
    source_server.execute(f"UPDATE `{s}`.t SET id = 1000, v = -1 WHERE id = 1")
    source_server.execute(f"INSERT INTO `{s}`.t VALUES (1, 'again', 1)")
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client)
    try:
        wait_equal(source_server, target_server, s, (src, dest))
    finally:
        src.stop()
        dest.stop()
    assert target_server.execute(f"SELECT id, u, v FROM `{s}`.t WHERE id IN (1, 1000) ORDER BY id") \
        == [(1, "again", 1), (1000, "u1", -1)]
