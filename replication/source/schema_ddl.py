"""Applies the DDL the binlog carries to the tracked table definitions.

``SchemaDDL.apply`` reads one statement (see ``ddl_tokens`` for why the grammar is read here)
and changes the ``Catalog``: CREATE TABLE (with columns, or LIKE a tracked table), ALTER TABLE
(ADD/DROP/MODIFY/CHANGE/RENAME COLUMN with FIRST/AFTER, RENAME TO, CONVERT TO CHARACTER SET,
the table's default charset), RENAME TABLE, DROP TABLE and the databases' default charsets.
Specifications that cannot change columns (indexes, keys, constraints, partitions, table
options, ALGORITHM/LOCK) are passed over. A statement about a tracked table that is not
understood marks the table ``unknown`` with the reason, so its next row stops the task
instead of being decoded with columns that may be wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from replication.source.ddl_tokens import (
    IDENT,
    STRING,
    WORD,
    Placement,
    Token,
    UnknownSyntax,
    charset_of_collation,
    group_end,
    name_at,
    read_column,
    split_top,
    tokenize,
)
from replication.source.schema import CHOICE_TYPES, TEXT_TYPES, ColumnDef, TableDef

log = logging.getLogger(__name__)

Key = tuple[str, str]
# Words that open an ALTER specification or a CREATE element that never changes the columns.
_INDEX_WORDS = {"INDEX", "KEY", "PRIMARY", "UNIQUE", "FULLTEXT", "SPATIAL", "CONSTRAINT",
                "FOREIGN", "CHECK", "PARTITION", "PERIOD", "VECTOR"}
_OPTION_WORDS = {"ENGINE", "AUTO_INCREMENT", "COMMENT", "ROW_FORMAT", "ALGORITHM", "LOCK",
                 "FORCE", "ORDER", "KEY_BLOCK_SIZE", "STATS_PERSISTENT", "STATS_AUTO_RECALC",
                 "STATS_SAMPLE_PAGES", "PACK_KEYS", "CHECKSUM", "TABLE_CHECKSUM",
                 "DELAY_KEY_WRITE", "ENABLE", "DISABLE", "DISCARD", "IMPORT", "REMOVE",
                 "COALESCE", "REORGANIZE", "EXCHANGE", "TRUNCATE", "ANALYZE", "OPTIMIZE",
                 "REBUILD", "REPAIR", "WITH", "WITHOUT", "PAGE_CHECKSUM", "TRANSACTIONAL",
                 "ENCRYPTED", "ENCRYPTION_KEY_ID", "PAGE_COMPRESSED", "PAGE_COMPRESSION_LEVEL",
                 "MAX_ROWS", "MIN_ROWS", "AVG_ROW_LENGTH", "CONNECTION", "DATA", "INDEX",
                 "INSERT_METHOD", "UNION", "COMPRESSION", "ENCRYPTION", "SECONDARY_ENGINE",
                 "TABLESPACE", "STORAGE", "AUTOEXTEND_SIZE", "ENGINE_ATTRIBUTE", "NOWAIT",
                 "WAIT", "SEQUENCE", "IETF_QUOTES"}


@dataclass
class Catalog:
    """The tracked tables, and the databases' default charsets CREATE TABLE falls back on."""

    tables: dict[Key, TableDef] = field(default_factory=dict)
    schema_charsets: dict[str, str] = field(default_factory=dict)
    server_charset: str = "utf8mb4"


class SchemaDDL:
    """Applies statements to a catalog for the tables ``tracked(schema, table)`` accepts."""

    def __init__(self, catalog: Catalog, tracked: Callable[[str, str], bool]) -> None:
        self.catalog = catalog
        self._tracked = tracked

    def apply(self, default_schema: str, statement: str) -> list[Key]:
        """Apply one statement; the tables whose definition changed (dropped ones included)."""
        try:
            tokens = tokenize(statement)
        except Exception as exc:  # sqlglot's TokenError: an unlexable statement
            raise UnknownSyntax(f"cannot read the statement: {exc}") from exc
        words = [t.word for t in tokens[:6]]
        if not words:
            return []
        pos = 1
        if words[0] in ("CREATE", "ALTER", "DROP") and words[1:3] == ["OR", "REPLACE"]:
            pos = 3
        while pos < len(words) and words[pos] in ("ONLINE", "IGNORE", "DEFINER"):
            pos += 1
        head, obj = words[0], words[pos] if pos < len(words) else ""
        if obj == "TEMPORARY":
            return []  # temporary tables have no rows in the binlog (ROW format)
        run = _Statement(self, tokens, default_schema, replace=pos == 3)
        if obj in ("DATABASE", "SCHEMA"):
            return run.database(head, pos + 1)
        if head == "CREATE" and obj == "TABLE":
            return run.create(pos + 1)
        if head == "ALTER" and obj == "TABLE":
            return run.alter(pos + 1)
        if head == "RENAME" and obj in ("TABLE", "TABLES"):
            return run.rename(pos + 1)
        if head == "DROP" and obj in ("TABLE", "TABLES"):
            return run.drop(pos + 1)
        return []

    def tracked(self, key: Key) -> bool:
        return key in self.catalog.tables or self._tracked(*key)


class _Statement:
    def __init__(self, owner: SchemaDDL, tokens: list[Token], schema: str, replace: bool) -> None:
        self.owner = owner
        self.catalog = owner.catalog
        self.tokens = tokens
        self.schema = schema
        self.replace = replace
        self.changed: list[Key] = []

    def _name(self, i: int) -> tuple[Key, int]:
        """A possibly qualified table name at ``i``, and the index after it."""
        first = name_at(self.tokens, i)
        if i + 2 < len(self.tokens) and self.tokens[i + 1].text == "." and \
                self.tokens[i + 1].kind != STRING:
            return (first, name_at(self.tokens, i + 2)), i + 3
        if not self.schema:
            raise UnknownSyntax(f"table {first!r} has no database and the statement no default")
        return (self.schema, first), i + 1

    def _skip(self, i: int, *words: str) -> int:
        while i < len(self.tokens) and self.tokens[i].word in words:
            i += 1
        return i

    def _set(self, key: Key, table: TableDef | None) -> None:
        if table is None:
            self.catalog.tables.pop(key, None)
        else:
            self.catalog.tables[key] = table
        self.changed.append(key)

    def _default_charset(self, schema: str) -> str:
        return self.catalog.schema_charsets.get(schema, self.catalog.server_charset)

    # -- databases ------------------------------------------------------------------------
    def database(self, head: str, i: int) -> list[Key]:
        i = self._skip(i, "IF", "NOT", "EXISTS")
        named = i < len(self.tokens) and self.tokens[i].word not in (
            "DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "COMMENT", "")
        name = self.tokens[i].text if named else self.schema
        if head == "DROP":
            self.catalog.schema_charsets.pop(name, None)
            for key in [k for k in self.catalog.tables if k[0] == name]:
                self._set(key, None)
            return self.changed
        charset = _table_charset(self.tokens[i + 1 if named else i:], "")
        if charset:
            self.catalog.schema_charsets[name] = charset
        elif head == "CREATE" and not self.replace:
            self.catalog.schema_charsets.setdefault(name, self.catalog.server_charset)
        return []

    # -- CREATE TABLE ---------------------------------------------------------------------
    def create(self, i: int) -> list[Key]:
        exists_clause = self.tokens[i].word == "IF" if i < len(self.tokens) else False
        key, i = self._name(self._skip(i, "IF", "NOT", "EXISTS"))
        if not self.owner.tracked(key):
            return []
        if exists_clause and key in self.catalog.tables:
            return []  # CREATE TABLE IF NOT EXISTS on a table that exists changes nothing
        try:
            table = self._created(key, i)
        except UnknownSyntax as exc:
            table = TableDef(key[0], key[1], (), unknown=f"CREATE TABLE not understood: {exc}")
        self._set(key, table)
        return self.changed

    def _created(self, key: Key, i: int) -> TableDef:
        tokens = self.tokens
        like = i < len(tokens) and tokens[i].word == "LIKE" or (
            i + 1 < len(tokens) and tokens[i].text == "(" and tokens[i + 1].word == "LIKE")
        if like:
            source, _ = self._name(i + (1 if tokens[i].word == "LIKE" else 2))
            original = self.catalog.tables.get(source)
            if original is None or original.unknown:
                raise UnknownSyntax(f"LIKE {source[0]}.{source[1]}, whose definition is not tracked")
            return original.renamed(*key)
        if i >= len(tokens) or tokens[i].text != "(":
            raise UnknownSyntax("no column list (CREATE TABLE ... SELECT without columns)")
        end = group_end(tokens, i)
        charset = _table_charset(tokens[end:], "") or self._default_charset(key[0])
        columns = []
        primary: tuple[str, ...] = ()
        for element in split_top(tokens[i + 1:end - 1]):
            if element[0].word in _INDEX_WORDS and element[0].kind == WORD:
                primary = _primary_key(element) or primary
                continue
            column = read_column(element, charset)[0]
            columns.append(column)
            if _has_primary(element):
                primary = (column.name,)
        return TableDef(key[0], key[1], tuple(columns), charset, key=primary)

    # -- RENAME / DROP --------------------------------------------------------------------
    def rename(self, i: int) -> list[Key]:
        for pair in split_top(self.tokens[i:]):
            sub = _Statement(self.owner, pair, self.schema, False)
            old, j = sub._name(0)
            new, _ = sub._name(sub._skip(j, "TO"))
            table = self.catalog.tables.get(old)
            if table is not None:
                self._set(old, None)
            if self.owner.tracked(new) or table is not None:
                self._set(new, table.renamed(*new) if table is not None else TableDef(
                    new[0], new[1], (), unknown="renamed from a table that is not tracked"))
        return self.changed

    def drop(self, i: int) -> list[Key]:
        for item in split_top(self.tokens[self._skip(i, "IF", "EXISTS"):]):
            sub = _Statement(self.owner, item, self.schema, False)
            key, _ = sub._name(0)
            if key in self.catalog.tables:
                self._set(key, None)
        return self.changed

    # -- ALTER TABLE ----------------------------------------------------------------------
    def alter(self, i: int) -> list[Key]:
        key, i = self._name(self._skip(i, "IF", "EXISTS"))
        table = self.catalog.tables.get(key)
        if table is None:
            if self.owner.tracked(key):
                log.warning("ALTER TABLE %s.%s: the table's definition is not tracked", *key)
            return []
        if table.unknown:
            return []
        editor = _TableEditor(table, key)
        try:
            for spec in split_top(self.tokens[i:]):
                editor.apply(spec)
        except UnknownSyntax as exc:
            self._set(key, TableDef(key[0], key[1], (), table.charset,
                                    f"ALTER TABLE not understood: {exc}"))
            return self.changed
        result = editor.result()
        if (result.schema, result.table) != key:
            self._set(key, None)  # ALTER TABLE ... RENAME TO
        self._set((result.schema, result.table), result)
        return self.changed


def _primary_at(tokens: list[Token]) -> int:
    """The index after ``PRIMARY KEY`` among ``tokens`` (words only), or -1."""
    for i in range(len(tokens) - 1):
        if tokens[i].kind == WORD and tokens[i].word == "PRIMARY" and tokens[i + 1].word == "KEY":
            return i + 2
    return -1


def _has_primary(tokens: list[Token]) -> bool:
    return _primary_at(tokens) >= 0


def _primary_key(tokens: list[Token]) -> tuple[str, ...]:
    """The columns of a ``[CONSTRAINT [x]] PRIMARY KEY [USING t] (a, b(10) DESC)`` element;
    () when the element is another kind of index."""
    i = _primary_at(tokens)
    if i < 0:
        return ()
    while i < len(tokens) and tokens[i].text != "(":
        i += 1
    if i >= len(tokens):
        return ()
    return tuple(name_at(part, 0) for part in split_top(tokens[i + 1:group_end(tokens, i) - 1]))


def _table_charset(tokens: list[Token], default: str) -> str:
    """``[DEFAULT] CHARACTER SET|CHARSET [=] x`` or ``COLLATE [=] y`` among table options."""
    for i, token in enumerate(tokens):
        word = token.word
        step = 2 if word in ("CHARACTER", "CHAR") and tokens[i + 1:i + 2] and \
            tokens[i + 1].word == "SET" else 1 if word in ("CHARSET", "COLLATE") else 0
        if not step:
            continue
        j = i + step
        if j < len(tokens) and tokens[j].text == "=":
            j += 1
        if j < len(tokens) and tokens[j].kind in (WORD, IDENT, STRING):
            name = tokens[j].text.lower()
            return charset_of_collation(name) if word == "COLLATE" else name
    return default


class _TableEditor:
    """One table's columns while an ALTER TABLE's specifications are applied in order."""

    def __init__(self, table: TableDef, key: Key) -> None:
        self.columns = list(table.columns)
        self.charset = table.charset
        self.key = key
        self.primary = list(table.key)

    def result(self) -> TableDef:
        names = {c.name.lower() for c in self.columns}
        primary = tuple(k for k in self.primary if k.lower() in names)
        return TableDef(self.key[0], self.key[1], tuple(self.columns), self.charset, key=primary)

    def _rename_in_primary(self, old: str, new: str) -> None:
        self.primary = [new if k.lower() == old.lower() else k for k in self.primary]

    def _index(self, name: str) -> int:
        for i, column in enumerate(self.columns):
            if column.name.lower() == name.lower():  # column names are case-insensitive
                return i
        return -1

    def _place(self, column: ColumnDef, where: Placement, at: int) -> None:
        if where.first:
            at = 0
        elif where.after:
            at = self._index(where.after) + 1
            if at == 0:
                raise UnknownSyntax(f"AFTER {where.after}: no such column")
        self.columns.insert(at, column)

    def apply(self, spec: list[Token]) -> None:
        word = spec[0].word
        second = spec[1].word if len(spec) > 1 and spec[1].kind == WORD else ""
        if word in ("ADD", "DROP") and second in _INDEX_WORDS | {"SYSTEM"}:
            if second == "SYSTEM":
                raise UnknownSyntax(f"{word} SYSTEM VERSIONING changes hidden columns")
            if word == "ADD" and _has_primary(spec):
                self.primary = list(_primary_key(spec))
            elif word == "DROP" and second == "PRIMARY":
                self.primary = []
            return
        if word in _OPTION_WORDS or (word == "RENAME" and second in ("INDEX", "KEY")) or (
                word == "ALTER" and second in ("INDEX", "KEY", "CHECK", "CONSTRAINT")):
            return
        handler = {"ADD": self._add, "DROP": self._drop, "MODIFY": self._modify,
                   "CHANGE": self._change, "RENAME": self._rename, "ALTER": self._alter_column,
                   "CONVERT": self._convert}.get(word)
        if handler is not None:
            handler(spec)
        elif word in ("DEFAULT", "CHARACTER", "CHARSET", "COLLATE"):
            self.charset = _table_charset(spec, self.charset)
        else:
            raise UnknownSyntax(f"unknown specification {' '.join(t.text for t in spec[:3])!r}")

    def _after_column_word(self, spec: list[Token]) -> tuple[int, bool]:
        """Index after ``ADD|DROP|MODIFY|CHANGE [COLUMN] [IF [NOT] EXISTS]``, and whether an
        IF clause was there."""
        i = 2 if len(spec) > 1 and spec[1].word == "COLUMN" and spec[1].kind == WORD else 1
        has_if = i < len(spec) and spec[i].word == "IF"
        while i < len(spec) and spec[i].word in ("IF", "NOT", "EXISTS"):
            i += 1
        return i, has_if

    def _add(self, spec: list[Token]) -> None:
        i, has_if = self._after_column_word(spec)
        if spec[i].text == "(":
            definitions = split_top(spec[i + 1:group_end(spec, i) - 1])
        else:
            definitions = [spec[i:]]
        for definition in definitions:
            column, where = read_column(definition, self.charset)
            if self._index(column.name) >= 0:
                if has_if:
                    continue
                raise UnknownSyntax(f"ADD COLUMN {column.name}: it exists already")
            self._place(column, where, len(self.columns))
            if _has_primary(definition):
                self.primary = [column.name]

    def _drop(self, spec: list[Token]) -> None:
        i, has_if = self._after_column_word(spec)
        at = self._index(name_at(spec, i))
        if at < 0:
            if has_if:
                return
            raise UnknownSyntax(f"DROP COLUMN {spec[i].text}: no such column")
        del self.columns[at]

    def _replace(self, old: str, definition: list[Token], has_if: bool) -> None:
        at = self._index(old)
        if at < 0:
            if has_if:
                return
            raise UnknownSyntax(f"column {old} does not exist")
        column, where = read_column(definition, self.charset)
        del self.columns[at]
        self._place(column, where, at)
        self._rename_in_primary(old, column.name)
        if _has_primary(definition):
            self.primary = [column.name]

    def _modify(self, spec: list[Token]) -> None:
        i, has_if = self._after_column_word(spec)
        self._replace(name_at(spec, i), spec[i:], has_if)

    def _change(self, spec: list[Token]) -> None:
        i, has_if = self._after_column_word(spec)
        self._replace(name_at(spec, i), spec[i + 1:], has_if)

    def _rename(self, spec: list[Token]) -> None:
        if len(spec) > 1 and spec[1].word == "COLUMN" and spec[1].kind == WORD:
            at = self._index(name_at(spec, 2))
            if at < 0:
                raise UnknownSyntax(f"RENAME COLUMN {spec[2].text}: no such column")
            new = name_at(spec, 4 if len(spec) > 4 and spec[3].word == "TO" else 3)
            old = self.columns[at]
            self.columns[at] = old.renamed(new)
            self._rename_in_primary(old.name, new)
            return
        i = 2 if len(spec) > 1 and spec[1].word in ("TO", "AS") else 1
        first = name_at(spec, i)
        if i + 2 < len(spec) and spec[i + 1].text == ".":
            self.key = (first, name_at(spec, i + 2))
        else:
            self.key = (self.key[0], first)

    def _alter_column(self, spec: list[Token]) -> None:
        i = 2 if len(spec) > 1 and spec[1].word == "COLUMN" and spec[1].kind == WORD else 1
        if self._index(name_at(spec, i)) < 0:
            raise UnknownSyntax(f"ALTER COLUMN {spec[i].text}: no such column")
        # SET/DROP DEFAULT, SET VISIBLE/INVISIBLE: the row image keeps its columns.

    def _convert(self, spec: list[Token]) -> None:
        charset = _table_charset(spec, "")
        if not charset or charset == "default":
            raise UnknownSyntax("CONVERT TO CHARACTER SET without a character set")
        self.charset = charset
        self.columns = [
            replace(c, charset=charset)
            if (c.data_type in TEXT_TYPES or c.data_type in CHOICE_TYPES) and c.charset != "binary"
            else c for c in self.columns]

