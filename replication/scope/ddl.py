"""DDL scope and renames: which schema changes a job replicates, rewritten with target names.

A small tokenizer (identifiers, quoted strings, comments) finds the table and schema names of
the common forms: CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE, CREATE/DROP INDEX, and
CREATE/ALTER/DROP DATABASE. Every table name is rewritten fully qualified with its target
names, so the target runs the statement without a default database. CREATE and DROP gain
IF [NOT] EXISTS so replaying one that already ran is harmless. ``DROP TABLE`` and ``RENAME
TABLE`` lists keep only their replicated tables (skipped when none is). Statements that are not
about data (GRANT, FLUSH, ANALYZE, ...) and non-table objects (views, triggers, routines,
events), which dtle does not replicate either, are skipped; table DDL that cannot be parsed
stops the task with ``UnsupportedDDL`` rather than being dropped silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from replication.mysql import quote_ident, quote_table
from replication.scope.filters import TableFilter

log = logging.getLogger(__name__)

_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>/\*.*?\*/|--[^\n]*|\#[^\n]*)|(?P<bq>`(?:[^`]|``)*`)"""
    r"""|(?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")|(?P<word>[A-Za-z0-9_$@]+)|(?P<p>.)""",
    re.S,
)
_SKIPPED = {"GRANT", "REVOKE", "FLUSH", "ANALYZE", "OPTIMIZE", "REPAIR", "CHECK", "SET",
            "SAVEPOINT", "ROLLBACK", "RELEASE", "INSTALL", "UNINSTALL", "KILL", "RESET", "DO"}
_SKIPPED_OBJECTS = {"USER", "ROLE", "SERVER", "LOGFILE", "TABLESPACE"}
# Objects without rows (their prefixes too: CREATE ALGORITHM=... DEFINER=... SQL SECURITY ... VIEW).
_SKIPPED_PROGRAMS = {"VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "ALGORITHM", "DEFINER",
                     "SQL", "PACKAGE", "AGGREGATE"}


class UnsupportedStatement(Exception):
    """Raised inside the rewriter; the caller turns it into ``UnsupportedDDL`` with context."""


@dataclass(frozen=True)
class RewrittenDDL:
    """A statement ready for the target, and the target tables whose definition it changes."""

    statement: str
    tables: tuple[tuple[str, str], ...]


class _Tokens:
    def __init__(self, sql: str) -> None:
        self.items: list[tuple[str, str]] = [(m.lastgroup or "p", m.group()) for m in _TOKEN.finditer(sql)]

    def significant(self) -> list[int]:
        return [i for i, (kind, _) in enumerate(self.items) if kind not in ("ws", "comment")]

    def word(self, index: int) -> str:
        kind, text = self.items[index]
        return text.upper() if kind == "word" else ""

    def ident(self, index: int) -> str:
        kind, text = self.items[index]
        if kind == "bq":
            return text[1:-1].replace("``", "`")
        if kind == "word":
            return text
        raise UnsupportedStatement(f"expected a name, found {text!r}")

    def text(self) -> str:
        return "".join(text for _, text in self.items)


class DDLRewriter:
    """Rewrites one DDL statement for the target, or says it is out of scope (None)."""

    def __init__(self, table_filter: TableFilter) -> None:
        self._filter = table_filter

    def rewrite(self, default_schema: str, statement: str) -> RewrittenDDL | None:
        tokens = _Tokens(statement)
        sig = tokens.significant()
        if not sig:
            return None
        words = [tokens.word(i) for i in sig[:6]]
        head = words[0]
        if head in _SKIPPED or (len(words) > 1 and words[1] in _SKIPPED_OBJECTS):
            return None
        job = _Rewrite(self._filter, tokens, sig, default_schema)
        return job.run(words)


class _Rewrite:
    def __init__(self, table_filter: TableFilter, tokens: _Tokens, sig: list[int], schema: str) -> None:
        self.filter = table_filter
        self.tokens = tokens
        self.sig = sig
        self.schema = schema
        self.in_scope: list[tuple[str, str]] = []
        self.out_of_scope = 0
        self.or_replace = False

    def run(self, words: list[str]) -> RewrittenDDL | None:
        head = words[0]
        pos = 1
        if head in ("CREATE", "DROP", "ALTER") and words[pos:pos + 1] == ["OR"]:
            pos += 2  # OR REPLACE: replaying it is harmless, and it excludes IF NOT EXISTS
            self.or_replace = True
        while pos < len(words) and words[pos] in ("TEMPORARY", "ONLINE", "IGNORE", "UNIQUE",
                                                  "FULLTEXT", "SPATIAL"):
            if words[pos] == "TEMPORARY":
                return None  # temporary tables are not logged in ROW format; nothing to replicate
            pos += 1
        obj = words[pos] if pos < len(words) else ""
        if head == "TRUNCATE":
            return self._tables(1 + (obj == "TABLE"), many=False)
        if head == "RENAME" and obj == "TABLE":
            return self._rename(pos + 1)
        if head in ("CREATE", "ALTER", "DROP") and obj in ("DATABASE", "SCHEMA"):
            return self._database(head, pos + 1)
        if head in ("CREATE", "DROP") and obj == "INDEX":
            return self._index(pos + 1)
        if head in ("CREATE", "ALTER", "DROP") and obj == "TABLE":
            return self._tables(pos + 1, many=head == "DROP", head=head)
        if obj in _SKIPPED_PROGRAMS and head in ("CREATE", "ALTER", "DROP"):
            log.info("skipping %s %s: views, triggers, routines and events are not replicated",
                     head, obj)
            return None
        if head in ("CREATE", "ALTER", "DROP", "RENAME"):
            if self.filter.schema_in_scope(self.schema) if self.schema else True:
                raise UnsupportedStatement(f"{head} {obj} is not supported")
            return None
        raise UnsupportedStatement(f"statement {head} is not supported")

    # -- helpers --------------------------------------------------------------------------
    def _name_at(self, k: int) -> tuple[str, str, int, int]:
        """(schema, table, first token, last token) of a possibly qualified name at sig[k]."""
        first = self.sig[k]
        name = self.tokens.ident(first)
        if k + 2 < len(self.sig) and self.tokens.items[self.sig[k + 1]][1] == ".":
            last = self.sig[k + 2]
            return name, self.tokens.ident(last), first, last
        if not self.schema:
            raise UnsupportedStatement("a table name without a database and no default database")
        return self.schema, name, first, first

    def _replace_table(self, k: int, referenced: bool = False) -> int:
        """Rewrite the table name at sig[k]; return the sig index after it. A ``referenced``
        table out of scope (a foreign key's parent) keeps its source names, fully qualified."""
        schema, table, first, last = self._name_at(k)
        mapping = self.filter.match(schema, table)
        if mapping is None and referenced:
            self._set_name(first, last, quote_table(schema, table))
        elif mapping is None:
            self.out_of_scope += 1
        else:
            if mapping.columns:
                raise UnsupportedStatement(
                    f"DDL on {schema}.{table}, which has column_map_from, is not supported")
            target = (mapping.target_schema, mapping.target_table)
            self.in_scope.append(target)
            self._set_name(first, last, quote_table(*target))
        return self.sig.index(last) + 1

    def _set_name(self, first: int, last: int, text: str) -> None:
        self.tokens.items[first] = ("bq", text)
        for i in range(first + 1, last + 1):
            self.tokens.items[i] = ("ws", "")

    def _keep_only(self, elements: list[tuple[int, int, bool]]) -> None:
        """Blank the elements of a comma-separated list (sig ranges) that are not kept."""
        kept = 0
        for start, end, keep in elements:
            if end < len(self.sig) and self.tokens.items[self.sig[end]][1] == ",":
                self.tokens.items[self.sig[end]] = ("ws", "")
            if not keep:
                for i in range(self.sig[start], self.sig[end - 1] + 1):
                    self.tokens.items[i] = ("ws", "")
                continue
            if kept:
                self._insert_before(start, ", ")
            kept += 1

    def _insert_before(self, k: int, text: str) -> None:
        index = self.sig[k]
        kind, old = self.tokens.items[index]
        self.tokens.items[index] = (kind, text + old)

    def _skip_words(self, k: int, *words: str) -> int:
        while k < len(self.sig) and self.tokens.word(self.sig[k]) in words:
            k += 1
        return k

    def _references(self, start: int) -> None:
        for k in range(start, len(self.sig) - 1):
            word = self.tokens.word(self.sig[k])
            if word == "REFERENCES":
                self._replace_table(k + 1, referenced=True)
            elif word == "LIKE" or (word in ("TO", "AS") and
                                    self.tokens.word(self.sig[k - 1]) == "RENAME"):
                self._replace_table(k + 1)

    def _insert_after(self, k: int, text: str) -> None:
        index = self.sig[k]
        kind, old = self.tokens.items[index]
        self.tokens.items[index] = (kind, old + text)

    def _result(self) -> RewrittenDDL | None:
        if not self.in_scope:
            return None
        if self.out_of_scope:
            raise UnsupportedStatement("the statement mixes replicated and not replicated tables")
        return RewrittenDDL(self.tokens.text(), tuple(self.in_scope))

    # -- forms ----------------------------------------------------------------------------
    def _tables(self, k: int, many: bool, head: str = "") -> RewrittenDDL | None:
        has_if = self.tokens.word(self.sig[k]) == "IF" if k < len(self.sig) else False
        k = self._skip_words(k, "IF", "NOT", "EXISTS")
        if not has_if and not self.or_replace and head in ("CREATE", "DROP"):
            self._insert_after(k - 1, " IF NOT EXISTS" if head == "CREATE" else " IF EXISTS")
        if many:
            return self._list(k, pairs=False)
        k = self._replace_table(k)
        self._references(k)
        return self._result()

    def _rename(self, k: int) -> RewrittenDDL | None:
        return self._list(k, pairs=True)

    def _list(self, k: int, pairs: bool) -> RewrittenDDL | None:
        """``DROP TABLE a, b`` / ``RENAME TABLE a TO b, c TO d``: keep the replicated elements.
        A rename pair with one side in scope moves a table in or out of the job: unsupported."""
        elements: list[tuple[int, int, bool]] = []
        while True:
            start, found = k, len(self.in_scope)
            k = self._replace_table(k)
            if pairs:
                k = self._replace_table(self._skip_words(k, "TO"))
            found = len(self.in_scope) - found
            if pairs and found == 1:
                raise UnsupportedStatement("RENAME TABLE moves a table into or out of the "
                                           "replicated tables")
            elements.append((start, k, found > 0))
            if k >= len(self.sig) or self.tokens.items[self.sig[k]][1] != ",":
                break
            k += 1
        self._keep_only(elements)
        self.out_of_scope = 0
        return self._result()

    def _index(self, k: int) -> RewrittenDDL | None:
        k = self._skip_words(k, "IF", "NOT", "EXISTS") + 1  # the index name
        k = self._skip_words(k, "ON")
        self._replace_table(k)
        return self._result()

    def _database(self, head: str, k: int) -> RewrittenDDL | None:
        has_if = k < len(self.sig) and self.tokens.word(self.sig[k]) == "IF"
        k = self._skip_words(k, "IF", "NOT", "EXISTS")
        name_index = self.sig[k] if k < len(self.sig) else None
        named = name_index is not None and self.tokens.word(name_index) not in (
            "CHARACTER", "DEFAULT", "COLLATE", "CHARSET", "COMMENT")
        schema = self.tokens.ident(name_index) if named and name_index is not None else self.schema
        target = self.filter.target_schema(schema)
        if target is None:
            return None
        if named and name_index is not None:
            self.tokens.items[name_index] = ("bq", quote_ident(target))
            if not has_if and head in ("CREATE", "DROP"):
                self._insert_after(k - 1, " IF NOT EXISTS" if head == "CREATE" else " IF EXISTS")
        else:
            self._insert_after(k - 1, " " + quote_ident(target))
        return RewrittenDDL(self.tokens.text(), ())
