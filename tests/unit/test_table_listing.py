"""Listing the source's tables while DDL rebuilds one of them (MariaDB may leave it out of a
listing while it swaps the table's files)."""

from __future__ import annotations

from typing import Any

from replication.source.tables import LISTINGS, base_tables


class _Listings:
    """A connection whose information_schema answers one scripted listing per query."""

    def __init__(self, *listings: list[tuple[str, str, int]]) -> None:
        self.listings = list(listings)
        self.queries = 0

    def cursor(self) -> _Listings:
        return self

    def __enter__(self) -> _Listings:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, sql: str, args: Any = None) -> None:
        self.queries += 1

    def fetchall(self) -> list[tuple[str, str, int]]:
        return self.listings[min(self.queries, len(self.listings)) - 1]


def test_a_table_left_out_of_one_listing_is_kept() -> None:
    full = [("s", "a", 10), ("s", "evolving", 4)]
    conn = _Listings([("s", "a", 10)], [("s", "a", 0), ("s", "evolving", 0)],
                     [("s", "a", 0), ("s", "evolving", 0)])
    assert base_tables(conn) == {(s, t): n if t == "a" else 0 for s, t, n in full}
    assert conn.queries == 3  # until two listings in a row agree


def test_a_table_left_out_of_the_later_listings_is_kept_with_its_estimate() -> None:
    conn = _Listings([("s", "a", 10), ("s", "evolving", 4)], [("s", "a", 0)], [("s", "a", 0)])
    assert base_tables(conn) == {("s", "a"): 10, ("s", "evolving"): 4}


def test_agreeing_listings_are_read_twice_and_a_storm_at_most_the_limit() -> None:
    quiet = _Listings([("s", "a", 1)], [("s", "a", 0)])
    assert base_tables(quiet) == {("s", "a"): 1} and quiet.queries == 2
    storm = _Listings(*[[("s", "a", 0)] if i % 2 else [("s", "a", 0), ("s", "b", 0)]
                        for i in range(3 * LISTINGS)])
    assert base_tables(storm) == {("s", "a"): 0, ("s", "b"): 0} and storm.queries == LISTINGS
