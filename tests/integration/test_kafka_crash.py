"""SIGKILL of a subscription's dest or src process under writes: a ``read_committed`` consumer
still sees every change exactly once, in order per key.

Each runner runs in its own process (``python -m replication.cli``). The topics are read whole,
from their first offset, by a ``read_committed`` consumer (noida-db 0.2.3 lists a producer's
aborted transaction in every fetch from a later offset, so a consumer already past its abort
marker would take the producer's later messages for aborted too; a read from the start sees the
marker). The check replays each key's messages in topic order: a snapshot or binlog ``c`` must
find no row under its key, and a ``u`` or ``d`` must carry as its before-image exactly the row
the key holds at that point. A lost, repeated or reordered change breaks that chain; the
replayed rows must end equal to the source.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from replication.sinks.kafka.broker import read_topic
from scripts.cluster import wait_for
from scripts.kafka_sandbox import KafkaBroker
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.cli_tasks import assert_running, spawn_task, stop_tasks
from tests.support.kafka import Message, TopicReader, message_of
from tests.support.workload import Workload, create_tables

KEYED = ("items", "counter", "log")


def _job_file(tmp_path: Path, job_id: str, source: MariaDBServer, broker: KafkaBroker,
              schema: str, topic: str) -> Path:
    job = {"job_id": job_id, "job_name": job_id, "job_type": "subscription",
           "src_task": {"mysql_connection_config": source.connection_config(), "chunk_size": 300,
                        "replicate_do_db": [{"table_schema": schema}]},
           "dest_task": {"kafka_broker_addrs": [broker.bootstrap], "kafka_topic": topic}}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def _replay(messages: list[Message]) -> dict[str, dict[Any, dict[str, Any]]]:
    """Each table's rows after replaying its messages in order; fails on a broken chain."""
    state: dict[str, dict[Any, dict[str, Any]]] = {t: {} for t in KEYED}
    seen: set[tuple[Any, ...]] = set()
    for m in messages:
        if m.value is None:
            continue  # a tombstone: its delete came just before
        p = m.payload
        table, rows = p["source"]["table"], state[p["source"]["table"]]
        key = json.dumps(m.key_payload, sort_keys=True)
        where = (table, key, p["op"], p["source"]["gtid"], p["source"]["row"])
        if not p["source"]["snapshot"]:
            assert where not in seen, f"published twice: {where}"
            seen.add(where)
        if p["op"] == "c":
            assert key not in rows, f"created twice: {where}"
            rows[key] = p["after"]
        else:
            assert rows.get(key) == p["before"], f"out of order or lost before {where}"
            if p["op"] == "u":
                rows[key] = p["after"]
            else:
                del rows[key]
    return state


def _source_state(source: MariaDBServer, schema: str) -> dict[str, Any]:
    return {
        "items": sorted(source.execute(f"SELECT id, grp, name FROM `{schema}`.items")),
        "counter": sorted(source.execute(f"SELECT id, n FROM `{schema}`.counter")),
        "log": sorted(r[0] for r in source.execute(f"SELECT id FROM `{schema}`.log")),
    }


def _published_state(state: dict[str, dict[Any, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "items": sorted((r["id"], r["grp"], r["name"]) for r in state["items"].values()),
        "counter": sorted((r["id"], r["n"]) for r in state["counter"].values()),
        "log": sorted(r["id"] for r in state["log"].values()),
    }


def _read_all(broker: KafkaBroker, topic: str, schema: str) -> list[Message]:
    """Every committed message of the keyed tables' topics (each topic in its order)."""
    return [message_of(r) for t in KEYED
            for r in read_topic([broker.bootstrap], f"{topic}.{schema}.{t}")]


def _diff(want: dict[str, Any], got: dict[str, Any]) -> str:
    parts = []
    for table in want:
        missing = sorted(set(want[table]) - set(got[table]))
        extra = sorted(set(got[table]) - set(want[table]))
        if missing or extra:
            parts.append(f"{table}: missing {missing[:5]} ({len(missing)}), extra {extra[:5]} ({len(extra)})")
    return "; ".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["dest", "src"])
def test_sigkill_under_writes_publishes_each_change_once_in_key_order(
        victim: str, source_server: MariaDBServer, kafka_broker: KafkaBroker,
        redis_client: redis.Redis, job_id: str, fresh_schema: str, tmp_path: Path) -> None:
    s = fresh_schema
    create_tables(source_server, s, rows=3000)
    topic = f"crash{uuid.uuid4().hex[:8]}"
    job_file = _job_file(tmp_path, job_id, source_server, kafka_broker, s, topic)
    reader = TopicReader(kafka_broker, [f"{topic}.{s}.{t}" for t in KEYED])
    procs = {task: spawn_task(task, job_file, tmp_path) for task in ("src", "dest")}
    workload = Workload(source_server, s)
    rng = random.Random(hash(victim))

    def alive() -> None:
        assert_running(procs, tmp_path)

    try:
        # The copy first (3,010 keyed rows), then writes while the victim is killed three times.
        reader.read_until(lambda ms: sum(1 for m in ms if m.value is not None) >= 3010,
                          timeout=120, errors=alive)
        workload.start(pause=0.001)
        for _ in range(3):
            # Killed after a random number of source transactions, whatever the machine's speed.
            mark = workload.transactions + rng.randint(100, 600)
            wait_for(lambda m=mark: alive() or workload.transactions >= m, 120, "more source writes")
            os.kill(procs[victim].pid, signal.SIGKILL)
            procs[victim].wait()
            procs[victim] = spawn_task(victim, job_file, tmp_path)
        mark = workload.transactions + 50
        wait_for(lambda: alive() or workload.transactions >= mark, 120, "writes after the last kill")
        workload.stop()
        want = _source_state(source_server, s)
        deadline = time.monotonic() + 120
        while (got := _published_state(_replay(_read_all(kafka_broker, topic, s)))) != want:
            alive()
            assert time.monotonic() < deadline, \
                f"the topics did not reach the source's rows: {_diff(want, got)}"
            time.sleep(2)
        # Nothing more may come: with both tasks stopped, what they published is final.
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(30)
        assert _published_state(_replay(_read_all(kafka_broker, topic, s))) == want
        assert workload.transactions > 50
    finally:
        workload.stop()
        reader.close()
        stop_tasks(procs)
        redis_client.delete(f"dtle:stream:{job_id}")
