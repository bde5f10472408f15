"""A table rule's ``where``: parsed, checked, and rendered again before any server sees it.

``where`` is spliced into SQL on the source (the snapshot's SELECT and the binlog row filter),
so it must be one boolean expression over the table's own columns and nothing else. It is
parsed with sqlglot (MySQL dialect) and refused when it holds a statement, a subquery, a
variable, a placeholder, a comment (MySQL runs ``/*! ... */``), a qualified column, a string
with a backslash (read differently under NO_BACKSLASH_ESCAPES) or a function outside a list of
pure ones (no SLEEP, BENCHMARK, GET_LOCK, LOAD_FILE, user functions). What runs is the
expression rendered back from the parsed tree with every identifier quoted, so text the parser
skipped can never reach the server. Unknown columns are left to the server, which refuses them
because the expression can name nothing but the table's columns.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import SqlglotError
from sqlglot.generators.mysql import MySQLGenerator
from sqlglot.tokens import TokenType

from replication.errors import ConfigError

_NODES = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple,
    exp.And, exp.Or, exp.Xor, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.NullSafeEQ, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.Escape, exp.Add,
    exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg, exp.BitwiseAnd, exp.BitwiseOr,
    exp.BitwiseXor, exp.BitwiseNot, exp.BitwiseLeftShift, exp.BitwiseRightShift, exp.Case,
    exp.DataType, exp.DataTypeParam, exp.Interval, exp.Var, exp.HexString, exp.BitString,
    exp.Introducer, exp.Collate,
)
# Pure functions, by the class sqlglot parses them into.
_FUNCTIONS = (
    exp.Lower, exp.Upper, exp.Length, exp.Coalesce, exp.Nullif, exp.Abs, exp.Round, exp.Floor,
    exp.Ceil, exp.Substring, exp.Concat, exp.ConcatWs, exp.Trim, exp.Left, exp.Right, exp.Year,
    exp.Month, exp.Day, exp.DayOfMonth, exp.DayOfWeek, exp.Week, exp.Quarter, exp.Hour,
    exp.Minute, exp.Second, exp.TsOrDsToDate, exp.TsOrDsToTimestamp, exp.Time, exp.TimeToStr,
    exp.StrToDate, exp.DateDiff, exp.TimestampDiff, exp.LastDay, exp.UnixToTime,
    exp.CurrentDate, exp.CurrentTimestamp, exp.UtcTimestamp, exp.Greatest, exp.Least,
    exp.Sign, exp.Pow, exp.Sqrt, exp.StrPosition, exp.Reverse, exp.Pad, exp.MD5, exp.SHA,
    exp.SHA2, exp.Hex, exp.Unhex, exp.Ascii, exp.JSONExtract, exp.Trunc, exp.RegexpLike,
    exp.Cast, exp.If,
)
# Pure functions sqlglot leaves anonymous, by name.
_ANONYMOUS = frozenset({"NOW", "CRC32", "FIND_IN_SET", "FIELD", "JSON_UNQUOTE", "WEEKDAY",
                        "UNIX_TIMESTAMP", "BIN", "CHAR_LENGTH", "OCTET_LENGTH", "DATE"})


def _refuse(reason: str) -> ConfigError:
    return ConfigError(f"where: {reason}")


def _check_tokens(text: str) -> None:
    try:
        tokens = MySQL().tokenize(text)
    except SqlglotError as exc:
        raise _refuse(f"cannot be read as SQL ({str(exc).splitlines()[0]})") from exc
    for token in tokens:
        if token.comments:
            raise _refuse("comments are not allowed")
        if token.token_type == TokenType.SEMICOLON:
            raise _refuse("one expression only, not statements")
        raw = text[token.start:token.end + 1]  # token.text has the escapes already resolved
        if token.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING) and "\\" in raw:
            raise _refuse("backslashes in string literals are not allowed")


class _Generator(MySQLGenerator):
    TRANSFORMS = {
        **MySQLGenerator.TRANSFORMS,
        exp.RegexpLike: lambda self, e: f"({self.sql(e, 'this')} REGEXP {self.sql(e, 'expression')})",
    }


class _Rendering(MySQL):
    """MySQL as sqlglot writes it, but REGEXP as the operator MariaDB also has."""

    Generator = _Generator


def _check_node(node: exp.Expr) -> None:
    if isinstance(node, exp.Column):
        if node.table or node.args.get("db") or node.args.get("catalog"):
            raise _refuse(f"name columns without a table ({node.sql(dialect='mysql')})")
        if not isinstance(node.this, exp.Identifier):
            raise _refuse(f"{node.sql(dialect='mysql')} is not a column name")
    elif isinstance(node, (exp.Query, exp.Subquery, exp.Exists)):
        raise _refuse("subqueries are not allowed")
    elif isinstance(node, exp.Anonymous):
        if str(node.name).upper() not in _ANONYMOUS:
            raise _refuse(f"function {str(node.name).upper()} is not allowed")
    elif isinstance(node, _NODES):
        return
    elif isinstance(node, exp.Func):
        if not isinstance(node, _FUNCTIONS):
            raise _refuse(f"function {node.sql_name()} is not allowed")
    else:
        raise _refuse(f"{type(node).__name__} is not allowed in a row filter")


@lru_cache(maxsize=256)
def checked_where(text: str) -> str:
    """``text`` as safe SQL to put inside ``( )``; empty for none. ``ConfigError`` otherwise."""
    if not text.strip():
        return ""
    _check_tokens(text)
    try:
        parsed = sqlglot.parse(text, read="mysql")
    except SqlglotError as exc:
        raise _refuse(f"cannot be read as SQL ({str(exc).splitlines()[0]})") from exc
    if len(parsed) != 1 or parsed[0] is None:
        raise _refuse("one expression only, not statements")
    for node in parsed[0].walk():
        _check_node(node)
    return parsed[0].sql(dialect=_Rendering, identify=True)
