"""The monitor's progress, ETA and delay fields as dtle prints them."""

from __future__ import annotations

from replication.stats import TaskStats, format_duration


def test_eta_counts_only_rows_copied_since_this_allocation_started() -> None:
    stats = TaskStats(read_master_row_count=1000, exec_master_row_count=400)
    stats.start_copy(now=100.0)
    stats.exec_master_row_count = 500  # 100 rows in 10 s here; 500 to go → 50 s
    assert stats.progress(now=110.0) == ("50.0", "50s")


def test_eta_is_na_under_one_percent_and_zero_when_done() -> None:
    stats = TaskStats(read_master_row_count=100_000, exec_master_row_count=10)
    stats.start_copy(now=1.0)
    assert stats.progress(now=5.0) == ("0.0", "N/A")
    stats.copy_done = True
    assert stats.progress(now=5.0) == ("100.0", "0s")


def test_monitor_record_has_every_dtle_field() -> None:
    record = TaskStats().to_monitor(now=1_620_882_952.0914417)
    assert set(record) == {
        "current_coordinates", "delay_count", "progress_PCT", "exec_master_row_count",
        "exec_master_tx_count", "read_master_row_count", "read_master_tx_count", "ETA", "backlog",
        "throughput_status", "nats_message_status", "buffer_status", "stage", "timestamp",
    }
    assert isinstance(record["timestamp"], int) and record["timestamp"] > 1_620_000_000 * 10**9


def test_durations_read_like_go() -> None:
    assert [format_duration(s) for s in (0, 59.6, 61, 3725)] == ["0s", "1m0s", "1m1s", "1h2m5s"]


def test_delay_grows_while_behind_and_is_zero_once_caught_up() -> None:
    stats = TaskStats()
    stats.set_delay_from(1000.0, now=1003.0)
    assert stats.to_monitor(now=1005.0)["delay_count"]["time"] == 5  # still applying it
    stats.set_caught_up()
    assert stats.to_monitor(now=1005.0)["delay_count"]["time"] == 0
    record = stats.to_monitor(now=1600.0)  # an idle source: still no delay ten minutes later
    assert record["delay_count"]["time"] == 0
    assert record["stage"] == "Master has sent all binlog to slave; waiting for more updates"
