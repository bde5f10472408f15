"""GTID sets: parsing both flavours, membership, growth, formatting and positions."""

from __future__ import annotations

import pytest

from replication.errors import ConfigError
from replication.gtid import GtidSet, is_mariadb_gtid, split_gtid

UUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
UUID2 = "8e4d2c7a-0000-11e1-9e33-c80aa9429562"


def test_mysql_set_round_trips_and_sorts_keys() -> None:
    text = f"{UUID2}:1-5,{UUID}:1-100:102:104-110"
    gtids = GtidSet.parse(text)
    assert not gtids.mariadb
    assert gtids.format() == f"{UUID}:1-100:102:104-110,{UUID2}:1-5"
    assert f"{UUID}:102" in gtids and f"{UUID}:101" not in gtids
    assert f"{UUID2}:6" not in gtids


def test_adding_fills_gaps_and_compacts() -> None:
    gtids = GtidSet.parse(f"{UUID}:1-3:5")
    gtids.add(f"{UUID}:4")
    assert gtids.format() == f"{UUID}:1-5"
    gtids.add(f"{UUID}:9")
    gtids.add(f"{UUID}:7")
    gtids.add(f"{UUID}:8")
    gtids.add(f"{UUID}:6")
    assert gtids.format() == f"{UUID}:1-9"


def test_mariadb_position_means_everything_up_to_it() -> None:
    gtids = GtidSet.parse("0-101-42,1-7-3")
    assert gtids.mariadb
    assert "0-101-42" in gtids and "0-101-1" in gtids and "0-101-43" not in gtids
    # Membership is per domain, whatever server wrote the transaction.
    assert "0-999-10" in gtids
    assert gtids.position() == "0-101-42,1-7-3"
    assert gtids.format() == "0-101:1-42,1-7:1-3"


def test_mariadb_position_stops_at_the_first_gap() -> None:
    gtids = GtidSet.parse("0-101-10")
    gtids.add("0-101-12")
    assert gtids.position() == "0-101-10"
    gtids.add("0-101-11")
    assert gtids.position() == "0-101-12"


def test_mariadb_position_follows_a_server_change_in_the_domain() -> None:
    gtids = GtidSet.parse("0-101-10")
    gtids.add("0-105-11")
    assert gtids.position() == "0-105-11"
    again = GtidSet.parse(gtids.format())
    assert again.position() == "0-105-11" and again == gtids


def test_empty_and_bad_sets() -> None:
    assert not GtidSet.parse("")
    assert GtidSet.parse("").format() == ""
    with pytest.raises(ConfigError):
        GtidSet.parse(f"{UUID}:5-3")
    with pytest.raises(ConfigError):
        GtidSet.parse("0-1", mariadb=True)
    with pytest.raises(ConfigError):
        GtidSet.parse("nonsense:1-2", mariadb=False)


def test_split_and_flavour() -> None:
    assert split_gtid(f"{UUID.upper()}:7") == (UUID, 7)
    assert split_gtid("1-2-3") == ("1-2", 3)
    assert is_mariadb_gtid("0-1-2") and not is_mariadb_gtid(f"{UUID}:1")


def test_update_merges_sets() -> None:
    a = GtidSet.parse(f"{UUID}:1-3")
    a.update(GtidSet.parse(f"{UUID}:4-6,{UUID2}:1"))
    assert a.format() == f"{UUID}:1-6,{UUID2}:1"
