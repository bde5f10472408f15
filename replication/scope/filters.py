"""Which source tables a job replicates, and under which names on the target.

``replicate_do_db`` picks schemas and tables (empty: the whole instance); ``replicate_ignore_db``
removes some again and always wins. Regex rules rename through templates such as ``new_${1}``
(dtle's ``$1`` / ``${1}`` group syntax). System schemas and the checkpoint schema are never in
scope. The first do-rule that matches a table decides its target names, columns and filter;
a mapping's ``where`` is the checked, re-rendered form (``scope.where``), never the raw text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from replication.config import SYSTEM_SCHEMAS, SchemaRule, TableRule
from replication.errors import ConfigError
from replication.scope.where import checked_where

_GROUP_REF = re.compile(r"\$\{(\d+)\}|\$(\d+)")


@dataclass(frozen=True)
class TableMapping:
    """Where one source table goes and what of it."""

    source_schema: str
    source_table: str
    target_schema: str
    target_table: str
    columns: tuple[str, ...] = ()  # column_map_from: source columns to copy, in order; () = all
    where: str = ""

    @property
    def renamed(self) -> bool:
        return (self.source_schema, self.source_table) != (self.target_schema, self.target_table)


def _template(rename: str) -> str:
    """dtle's ``${1}``/``$1`` group references as Python's ``\\g<1>``."""
    return _GROUP_REF.sub(lambda m: rf"\g<{m.group(1) or m.group(2)}>", rename.replace("\\", "\\\\"))


@lru_cache(maxsize=256)
def _compile(pattern: str, field_name: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{field_name}: invalid regular expression {pattern!r}: {exc}") from exc


def _schema_match(rule: SchemaRule, schema: str) -> str | None:
    """The target schema name if ``rule`` covers ``schema``, else None."""
    if rule.table_schema_regex:
        found = _compile(rule.table_schema_regex, "table_schema_regex").search(schema)
        if not found:
            return None
        return found.expand(_template(rule.table_schema_rename)) if rule.table_schema_rename else schema
    if rule.table_schema != schema:
        return None
    return rule.table_schema_rename or schema


def _table_match(rule: TableRule, table: str) -> str | None:
    """The target table name if ``rule`` covers ``table``, else None."""
    if rule.table_regex:
        found = _compile(rule.table_regex, "table_regex").search(table)
        if not found:
            return None
        return found.expand(_template(rule.table_rename)) if rule.table_rename else table
    if rule.table_name != table:
        return None
    return rule.table_rename or table


class TableFilter:
    """Answers, for a source schema or table, whether and where it is replicated."""

    def __init__(self, do_db: Sequence[SchemaRule] = (), ignore_db: Sequence[SchemaRule] = ()):
        self._do = tuple(do_db)
        self._ignore = tuple(ignore_db)
        # Compile now so a bad pattern fails when the job starts, not on the first row.
        for rule in (*self._do, *self._ignore):
            if rule.table_schema_regex:
                _compile(rule.table_schema_regex, "table_schema_regex")
            for table in rule.tables:
                if table.table_regex:
                    _compile(table.table_regex, "table_regex")
                checked_where(table.where)  # a refused row filter stops the job at once

    def _ignored(self, schema: str, table: str | None) -> bool:
        for rule in self._ignore:
            if _schema_match(rule, schema) is None:
                continue
            if not rule.tables:
                return True
            if table is not None and any(_table_match(t, table) is not None for t in rule.tables):
                return True
        return False

    def schema_in_scope(self, schema: str) -> bool:
        """Whether any table of ``schema`` may be replicated (DDL on the schema itself too)."""
        if schema in SYSTEM_SCHEMAS or self._ignored(schema, None):
            return False
        return not self._do or any(_schema_match(r, schema) is not None for r in self._do)

    def target_schema(self, schema: str) -> str | None:
        """The target name of a schema in scope, for schema-level DDL."""
        if not self.schema_in_scope(schema):
            return None
        for rule in self._do:
            target = _schema_match(rule, schema)
            if target is not None:
                return target
        return schema

    def match(self, schema: str, table: str) -> TableMapping | None:
        """The mapping of a source table, or None when it is not replicated."""
        if schema in SYSTEM_SCHEMAS or self._ignored(schema, table):
            return None
        if not self._do:
            return TableMapping(schema, table, schema, table)
        for rule in self._do:
            target_schema = _schema_match(rule, schema)
            if target_schema is None:
                continue
            if not rule.tables:
                return TableMapping(schema, table, target_schema, table)
            for table_rule in rule.tables:
                target_table = _table_match(table_rule, table)
                if target_table is not None:
                    return TableMapping(
                        schema, table, target_schema, target_table,
                        tuple(table_rule.column_map_from), checked_where(table_rule.where),
                    )
        return None
