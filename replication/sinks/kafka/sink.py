"""The Kafka sink: publishes a job's transport messages to Kafka, exactly once.

Messages go out through one transactional producer (``transactional_id`` = the job's, so a
restarted or moved dest fences its predecessor out and aborts what it left open). A Kafka
transaction covers whole transport entries: every entry of one receive from the transport
(the runner's ``maintain`` after it ends the receive), and more receives while it holds fewer
than ``message_group_max_size`` bytes of records, for at most ``message_group_timeout`` ms; then
the job's checkpoint record (which covers exactly those entries) joins it and it commits. With
the default ``message_group_max_size`` of 1 byte nothing waits for more: what one receive brought
commits at once, in one transaction instead of one per entry. Only after the commit are the entries
acknowledged, i.e. deleted from the transport. A crash before the commit aborts the records and
the checkpoint together, and the entries are received again; a crash after the commit but before
the acknowledgement redelivers entries the checkpoint already covers, which are skipped: chunks
by their number, transactions by GTID (file/pos without GTIDs).

With ``kafka_exactly_once: false``, or when the brokers refuse transactions, the same happens
without transactions: at least once, said in the job's events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from replication.errors import Stopped, TargetError
from replication.gtid import GtidSet
from replication.resume import TableCheckpoint
from replication.sinks.kafka import broker
from replication.sinks.kafka.checkpoint import KafkaCheckpoint, covered
from replication.sinks.kafka.history import SchemaHistoryTopic
from replication.sinks.kafka.producer import TxProducer
from replication.sinks.kafka.records import Record, RecordMaker, row_count
from replication.sinks.kafka.resume import kafka_config, load_checkpoint
from replication.source.schema import SchemaHistory, SchemaVersion, TableDef
from replication.stats import STAGE_FULL, STAGE_READING
from replication.task import TaskContext
from replication.wire.changes import DDL, IncrementalStart, RowEvent, Transaction, TransactionGroup
from replication.wire.snapshot import SnapshotChunk, SnapshotDone, SnapshotTable

log = logging.getLogger(__name__)

TableKey = tuple[str, str]
BACKOFF_FIRST = 1.0  # seconds before the first retry while the brokers are unavailable
BACKOFF_MAX = 30.0
END_TIMEOUT_S = 20.0  # longest wait for a commit, an abort or a flush


class KafkaSink:
    """Publishes a subscription job's snapshot and binlog changes to its Kafka topics."""

    def __init__(self, ctx: TaskContext, ack: Callable[..., None]) -> None:
        self.ctx = ctx
        self._ack = ack
        self._cfg = kafka_config(ctx)
        self._job_id = ctx.job.job_id
        self._servers = broker.bootstrap(self._cfg)
        self._records = RecordMaker(self._cfg.kafka_topic, self._cfg.topic_with_schema_table)
        self._topics = broker.TopicMaker(self._servers)
        self._history = SchemaHistoryTopic(self._servers, self._job_id)
        self._exactly_once = self._cfg.kafka_exactly_once
        self._producer: TxProducer | None = None
        self._committed = KafkaCheckpoint()
        self._state = KafkaCheckpoint()  # committed + the open transaction's entries
        self._open = False
        self._opened_at = 0.0
        self._bytes = 0
        self._entries: list[tuple[str, Any]] = []  # the open transaction's, in order
        self._down_since = 0.0
        self._versions: list[SchemaVersion] = []
        self._base: dict[TableKey, TableDef] = {}
        self._current: dict[TableKey, TableDef | None] | None = None
        self._gtids: dict[str, GtidSet] = {}

    # -- lifecycle ------------------------------------------------------------------------
    def open(self) -> None:
        self._guarded(self._connect)
        if not self._exactly_once:
            self.ctx.event("Driver", "kafka_exactly_once is false: messages are published at "
                                     "least once (a restart may publish some of them again)")
        stats = self.ctx.stats
        stats.exec_master_row_count = max(stats.exec_master_row_count,
                                          self._committed.snapshot_resume().rows_done)
        log.info("job %s: Kafka sink open (%s), checkpoint at %s", self._job_id,
                 "exactly once" if self._exactly_once else "at least once",
                 self._committed.position or "the full copy")

    def _connect(self) -> None:
        """A new producer (fencing any older one of the job and aborting what it left open),
        then the checkpoint it continues from."""
        self._drop_producer()
        self._producer = TxProducer(self._servers, broker.transactional_id(self._job_id)
                                    if self._exactly_once else None, END_TIMEOUT_S,
                                    self._cfg.kafka_compression)
        # The producer's metadata names the topics that exist, so only a missing one needs the
        # admin client (a kafka-python client connecting on every start before). Asked first,
        # it also has the producer connected before init_transactions looks for its coordinator.
        self._topics.exist(self._producer.topics())
        self._topics.ensure([broker.checkpoint_topic(self._job_id)], compacted=True)
        self._topics.ensure([self._records.ddl_topic])
        if self._exactly_once:
            self._producer.init()
        self._committed = load_checkpoint(self._servers, self._job_id) or KafkaCheckpoint()
        self._state = self._committed.copy()
        self._open = False
        self._current = None  # the definitions follow the checkpoint's position again

    def _drop_producer(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    # -- broker outages -------------------------------------------------------------------
    def _guarded(self, action: Callable[[], None]) -> None:
        """Run ``action``; while the brokers are unavailable, wait with back-off, reconnect and
        publish the open transaction's entries again (nothing of them was committed)."""
        delay = BACKOFF_FIRST
        while True:
            try:
                action()
                break
            except broker.BrokerDown as exc:
                self._wait_out(exc, delay)
                delay = min(2 * delay, BACKOFF_MAX)
                action = self._republish
        if self._down_since:
            self.ctx.event("Driver", f"Kafka brokers reachable again after "
                                     f"{time.monotonic() - self._down_since:.0f}s")
            log.info("job %s: Kafka brokers reachable again", self._job_id)
            self._down_since = 0.0
            self.ctx.stats.stage = STAGE_READING

    def _wait_out(self, exc: BaseException, delay: float) -> None:
        reason = f"Kafka unavailable, retrying in {delay:.0f}s: {exc}"
        if not self._down_since:
            self._down_since = time.monotonic()
            self.ctx.event("Driver", reason)
            log.warning("job %s: %s", self._job_id, reason)
        self.ctx.stats.stage = reason[:300]
        self.ctx.publish_stats()
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if self.ctx.stop.is_set():
                raise Stopped("stop requested while Kafka was unavailable")
            time.sleep(0.1)

    def _republish(self) -> None:
        self._connect()
        for _entry_id, message in self._entries:
            self._publish(message)
        self._commit()  # what was interrupted was a publish or a commit: committing suits both

    def close(self) -> None:
        # While the brokers are away an abort would only wait; the next producer aborts it.
        if self._producer is not None and self._open and self._exactly_once and not self._down_since:
            try:
                self._producer.abort()
            except (broker.BrokerDown, Stopped):
                pass  # the next producer of this id aborts it anyway
        self._drop_producer()
        self._topics.close()
        self._history.close()

    # -- messages -------------------------------------------------------------------------
    def submit(self, entry_id: str, message: Any) -> None:
        self._entries.append((entry_id, message))
        self._guarded(lambda: self._publish_entry(message))

    def _publish_entry(self, message: Any) -> None:
        self._publish(message)
        if isinstance(message, SnapshotDone):
            # The runner tells users the copy is there once this returns.
            self._commit()

    def _publish(self, message: Any) -> None:
        self._begin()
        if isinstance(message, SnapshotTable):
            self._table(message)
        elif isinstance(message, SnapshotChunk):
            self._chunk(message)
        elif isinstance(message, SnapshotDone):
            self._state.done = (message.start, message.end)
            self._start(IncrementalStart(message.start, message.end))
        elif isinstance(message, IncrementalStart):
            self._start(message)
        elif isinstance(message, TransactionGroup):
            self._group(message)
        else:
            raise TargetError(f"unexpected message {type(message).__name__} in the transport")

    def _begin(self) -> None:
        if self._open:
            return
        assert self._producer is not None
        if self._exactly_once:
            self._producer.begin()
        self._open = True
        self._opened_at = time.monotonic()
        self._bytes = 0

    def _send(self, records: Iterable[Record]) -> int:
        producer = self._producer
        assert producer is not None
        count = size = 0
        known = ""
        for record in records:
            if record.topic != known:
                self._topics.ensure([record.topic])
                known = record.topic
            producer.send(record.topic, record.key, record.value)
            size += len(record.key or b"") + len(record.value or b"")
            count += 1
        self._bytes += size
        self._state.messages += count
        return count

    def _start(self, message: IncrementalStart) -> None:
        if self._state.position is None:
            self._state.position = message.position
            self._state.replay_until = message.replay_until

    # -- full copy ------------------------------------------------------------------------
    def _table(self, msg: SnapshotTable) -> None:
        stats = self.ctx.stats
        stats.stage = STAGE_FULL
        stats.start_copy()
        stats.read_master_row_count = max(stats.read_master_row_count, msg.job_rows_estimate)
        key = (msg.source_schema, msg.source_table)
        if key in self._state.announced or self._state.tables.get(key, TableCheckpoint()).seq > 0:
            return
        self._send([self._records.create_table(msg)])
        self._state.announced.add(key)

    def _chunk(self, msg: SnapshotChunk) -> None:
        key = (msg.source_schema, msg.source_table)
        cp = self._state.tables.get(key, TableCheckpoint())
        if not cp.continued_by(msg, "the topic"):
            return  # published before a restart
        name = f"{msg.source_schema}.{msg.source_table}"
        if not getattr(msg, "typed", False):
            raise TargetError(f"full copy of {name}: the src sent SQL text, not typed rows "
                              "(a src of an older version); restart the src task")
        definition = self._base_definition(key)
        self._send(self._records.snapshot_rows(msg, definition))
        restarted = msg.keyless and msg.restart
        rows_before = 0 if restarted else cp.rows_done
        resumed = cp.seq > 0 and not restarted
        self._state.tables[key] = TableCheckpoint(
            msg.seq, msg.last_key, rows_before + msg.row_count, msg.keyless, msg.last,
            cp.start if resumed else msg.position, msg.position)
        self.ctx.stats.exec_master_row_count += msg.row_count

    def _base_definition(self, key: TableKey) -> TableDef:
        if key not in self._base:
            self._load_history()
        found = self._base.get(key)
        if found is None:
            raise TargetError(f"no definition of {key[0]}.{key[1]} in the job's schema history")
        return found

    def _load_history(self) -> None:
        self._versions = self._history.load()
        for v in self._versions:
            if v.base and v.definition is not None:
                self._base[(v.schema, v.table)] = v.definition

    # -- binlog ---------------------------------------------------------------------------
    def _group(self, group: TransactionGroup) -> None:
        if self._current is None:
            self._load_history()
            at = SchemaHistory(self._versions).at(self._state.position or group.end)
            self._current = {k: v.definition for k, v in at.items()}
        stats = self.ctx.stats
        for tx in group.transactions:
            stats.read_master_tx_count += 1
            if covered(self._committed.position, tx.gtid, tx.file, tx.pos, self._gtids):
                continue  # published before a restart
            self._transaction(tx)
            stats.exec_master_tx_count += 1
            stats.exec_master_row_count += row_count(tx)
            if tx.timestamp:
                stats.set_delay_from(tx.timestamp)
        self._state.position = group.end
        coords = stats.current_coordinates
        coords.file, coords.position, coords.gtid_set = group.end.file, group.end.pos, group.end.gtid_set

    def _transaction(self, tx: Transaction) -> None:
        current = self._current
        assert current is not None
        for change in tx.changes:
            if isinstance(change, DDL):
                self._send([self._records.ddl(tx, change, self._ddl_gtids(tx))])
                self._apply_ddl(tx)
            elif isinstance(change, RowEvent):
                if self._in_copy(tx, change):
                    continue
                key = (change.schema, change.table)
                definition = current.get(key)
                if definition is None:
                    raise TargetError(f"rows of {key[0]}.{key[1]} at {tx.ident}: no definition "
                                      "of the table is known at that point of the binlog")
                self._send(self._records.rows(tx, change, definition))

    def _ddl_gtids(self, tx: Transaction) -> str:
        """The executed GTID set after the DDL: the history version it made says it."""
        for v in reversed(self._versions):
            if not v.base and v.ident == tx.ident:
                return v.position.gtid_set
        return tx.gtid

    def _apply_ddl(self, tx: Transaction) -> None:
        """The definitions the DDL made (the src kept them before sending it)."""
        assert self._current is not None
        self._load_history()
        for v in self._versions:
            if not v.base and v.ident == tx.ident:
                self._current[(v.schema, v.table)] = v.definition

    def _in_copy(self, tx: Transaction, change: RowEvent) -> bool:
        """Inside the full copy's window: whether the table's copy already holds the change
        (the table was read after it)."""
        until = self._state.replay_until
        if until is None or not covered(until, tx.gtid, tx.file, tx.pos, self._gtids):
            return False
        cp = self._state.tables.get((change.schema, change.table))
        return cp is not None and covered(cp.start, tx.gtid, tx.file, tx.pos, self._gtids)

    # -- commits --------------------------------------------------------------------------
    def _commit(self) -> None:
        if not self._open:
            return
        producer = self._producer
        assert producer is not None
        # The checkpoint covers exactly this transaction's entries; a record the brokers
        # refused for good (too large) fails the task, anything else is waited out.
        producer.send(broker.checkpoint_topic(self._job_id), self._job_id.encode(),
                      self._state.to_bytes())
        if self._exactly_once:
            producer.commit()
        else:
            producer.flush()
        self._open = False
        self._committed = self._state.copy()
        entries, self._entries = self._entries, []
        if entries:
            self._ack(*(entry_id for entry_id, _ in entries))

    def maintain(self, force: bool = False) -> None:
        """After every receive: commit what it brought once the transaction holds
        ``message_group_max_size`` bytes or is ``message_group_timeout`` ms old."""
        if not self._open:
            return
        status = self.ctx.stats.buffer_status
        if not force:
            if self._bytes >= self._cfg.message_group_max_size:
                status.send_by_size_full += 1
            elif time.monotonic() - self._opened_at >= self._cfg.message_group_timeout / 1000:
                status.send_by_timeout += 1
            else:
                return
        self._guarded(self._commit)

    @property
    def idle(self) -> bool:
        return not self._open

    @property
    def pending(self) -> int:
        return len(self._entries)

    def drain(self, timeout: float) -> bool:
        self._guarded(self._commit)
        return True
