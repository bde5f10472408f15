"""MySQL statements as a list of tokens, and the column definitions inside them.

The lexing (quoted names with doubled backticks, strings with every escape, comments and
``/*!...*/`` version comments) is sqlglot's MySQL tokenizer. sqlglot's parser is not used for
the grammar: it turns several MySQL/MariaDB ALTER forms into opaque commands (``ADD COLUMN
(a, b)``, ``CONVERT TO CHARACTER SET``, ``CHANGE COLUMN IF EXISTS``, ``ALTER ONLINE``, ``RENAME
TABLE a TO b, c TO d``) and misreads some column types (``INT8`` as TINYINT, ``FLOAT UNSIGNED``,
the spatial types, MariaDB's ``PERSISTENT``), so the small grammar the schema tracker needs is
read here over the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlglot.dialects.mysql import MySQL
from sqlglot.tokens import TokenType

from replication.source.schema import BINARY_TYPES, CHOICE_TYPES, SIGNED_NUMBERS, TEXT_TYPES, ColumnDef

IDENT, WORD, STRING, NUMBER, PUNCT = "ident", "word", "string", "number", "punct"
_PUNCT = {TokenType.L_PAREN: "(", TokenType.R_PAREN: ")", TokenType.COMMA: ",",
          TokenType.DOT: ".", TokenType.EQ: "=", TokenType.SEMICOLON: ";"}

# Type words (upper case) → information_schema DATA_TYPE. Two-word forms are joined first.
_TYPES = {
    "TINYINT": "tinyint", "INT1": "tinyint", "BOOL": "tinyint", "BOOLEAN": "tinyint",
    "SMALLINT": "smallint", "INT2": "smallint", "MEDIUMINT": "mediumint", "INT3": "mediumint",
    "MIDDLEINT": "mediumint", "INT": "int", "INTEGER": "int", "INT4": "int",
    "BIGINT": "bigint", "INT8": "bigint", "SERIAL": "bigint",
    "FLOAT": "float", "FLOAT4": "float", "DOUBLE": "double", "FLOAT8": "double",
    "REAL": "double", "DOUBLE PRECISION": "double",
    "DECIMAL": "decimal", "DEC": "decimal", "NUMERIC": "decimal", "FIXED": "decimal",
    "BIT": "bit", "DATE": "date", "DATETIME": "datetime", "TIMESTAMP": "timestamp",
    "TIME": "time", "YEAR": "year",
    "CHAR": "char", "CHARACTER": "char", "NCHAR": "char", "NATIONAL CHAR": "char",
    "NATIONAL CHARACTER": "char", "VARCHAR": "varchar", "NVARCHAR": "varchar",
    "VARCHARACTER": "varchar", "CHARACTER VARYING": "varchar", "CHAR VARYING": "varchar",
    "NATIONAL VARCHAR": "varchar", "NCHAR VARCHAR": "varchar", "NCHAR VARYING": "varchar",
    "BINARY": "binary", "VARBINARY": "varbinary", "CHAR BYTE": "binary",
    "TINYTEXT": "tinytext", "TEXT": "text", "MEDIUMTEXT": "mediumtext", "LONGTEXT": "longtext",
    "LONG": "mediumtext", "LONG VARCHAR": "mediumtext", "LONG VARBINARY": "mediumblob",
    "TINYBLOB": "tinyblob", "BLOB": "blob", "MEDIUMBLOB": "mediumblob", "LONGBLOB": "longblob",
    "ENUM": "enum", "SET": "set", "JSON": "json",
    "GEOMETRY": "geometry", "POINT": "point", "LINESTRING": "linestring", "POLYGON": "polygon",
    "MULTIPOINT": "multipoint", "MULTILINESTRING": "multilinestring",
    "MULTIPOLYGON": "multipolygon", "GEOMETRYCOLLECTION": "geometrycollection",
    "GEOMCOLLECTION": "geometrycollection", "INET4": "inet4", "INET6": "inet6", "UUID": "uuid",
}
_NATIONAL = {"NCHAR", "NATIONAL CHAR", "NATIONAL CHARACTER", "NVARCHAR", "NATIONAL VARCHAR",
             "NCHAR VARCHAR", "NCHAR VARYING"}
# MariaDB's binary-stored types: their row images are bytes.
_STORED_AS_BYTES = frozenset({"inet4", "inet6", "uuid"})


class UnknownSyntax(Exception):
    """The statement (or one of its parts) is not understood; the message says which part."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str

    @property
    def word(self) -> str:
        """The upper-cased text of an unquoted word, else ''."""
        return self.text.upper() if self.kind == WORD else ""


def tokenize(sql: str) -> list[Token]:
    """The statement's tokens; unquoted words keep their text, quoted names lose the quotes."""
    tokens: list[Token] = []
    tokenizer = MySQL().tokenizer_class()
    for raw in tokenizer.tokenize(sql):
        kind = raw.token_type
        if kind in _PUNCT:
            tokens.append(Token(PUNCT, _PUNCT[kind]))
        elif kind == TokenType.IDENTIFIER:
            tokens.append(Token(IDENT, raw.text))
        elif kind == TokenType.STRING and tokens and tokens[-1].word == "RENAME":
            # sqlglot reads the rest of RENAME ... as one opaque string: lex it again.
            tokens.extend(tokenize(raw.text))
        elif kind in (TokenType.STRING, TokenType.NATIONAL_STRING):
            tokens.append(Token(STRING, raw.text))
        elif kind == TokenType.NUMBER:
            tokens.append(Token(NUMBER, raw.text))
        elif raw.text[:1].isalnum() or raw.text[:1] in "_$":
            # sqlglot reads some keyword pairs as one token ("PRIMARY KEY", "CHARACTER SET").
            tokens.extend(Token(WORD, part) for part in raw.text.split())
        else:
            tokens.append(Token(PUNCT, raw.text))
    return tokens


def split_top(tokens: list[Token]) -> list[list[Token]]:
    """Split on commas outside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.kind == PUNCT and token.text == "(":
            depth += 1
        elif token.kind == PUNCT and token.text == ")":
            depth -= 1
        if depth == 0 and token.kind == PUNCT and token.text == ",":
            parts.append([])
        else:
            parts[-1].append(token)
    return [p for p in parts if p]


def group_end(tokens: list[Token], start: int) -> int:
    """The index after the parenthesised group opening at ``start``."""
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i].kind == PUNCT and tokens[i].text == "(":
            depth += 1
        elif tokens[i].kind == PUNCT and tokens[i].text == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    raise UnknownSyntax("unbalanced parentheses")


def name_at(tokens: list[Token], i: int) -> str:
    """The name (quoted or not) at ``i``."""
    if i >= len(tokens) or tokens[i].kind not in (IDENT, WORD):
        raise UnknownSyntax(f"expected a name at {_shown(tokens, i)}")
    return tokens[i].text


def charset_of_collation(collation: str) -> str:
    name = collation.lower()
    return "binary" if name == "binary" else name.split("_", 1)[0]


def _next_word(tokens: list[Token], i: int) -> str:
    return tokens[i + 1].word if i + 1 < len(tokens) else ""


def _shown(tokens: list[Token], i: int) -> str:
    return repr(" ".join(t.text for t in tokens[i:i + 4])) if i < len(tokens) else "the end"


@dataclass(frozen=True)
class Placement:
    """Where an added or modified column goes: ``first``, after ``after``, or unchanged."""

    first: bool = False
    after: str = ""


def _type_name(tokens: list[Token], i: int) -> tuple[str, bool, int]:
    """(DATA_TYPE, national, index after the type words) of the type at ``i``."""
    words = [t.word for t in tokens[i:i + 3]]
    for size in (2, 1):
        key = " ".join(words[:size])
        if all(words[:size]) and key in _TYPES:
            return _TYPES[key], key in _NATIONAL, i + size
    raise UnknownSyntax(f"unknown column type at {_shown(tokens, i)}")


def _choice_values(tokens: list[Token], start: int, end: int) -> tuple[str, ...]:
    return tuple(t.text for t in tokens[start:end] if t.kind == STRING)


def read_column(tokens: list[Token], table_charset: str) -> tuple[ColumnDef, Placement]:
    """A column definition ``name type [attributes] [FIRST | AFTER col]``."""
    name = name_at(tokens, 0)
    data_type, national, i = _type_name(tokens, 1)
    values: tuple[str, ...] = ()
    arguments = ""
    if i < len(tokens) and tokens[i].text == "(":
        end = group_end(tokens, i)
        if data_type in CHOICE_TYPES:
            values = _choice_values(tokens, i + 1, end - 1)
        else:
            arguments = "".join(t.text for t in tokens[i + 1:end - 1])
        i = end
    serial = tokens[0].word == "SERIAL" or tokens[1].word == "SERIAL"
    unsigned, nullable = serial, not serial
    charset, collation, placement = "", "", Placement()
    while i < len(tokens):
        word = tokens[i].word
        if tokens[i].text == "(":
            i = group_end(tokens, i)
            continue
        if word == "NOT" and _next_word(tokens, i) == "NULL":
            nullable = False
            i += 1
        elif word == "NULL":
            nullable = True
        elif word == "PRIMARY" and _next_word(tokens, i) == "KEY":
            nullable = False
        elif word in ("UNSIGNED", "ZEROFILL"):
            unsigned = True
        elif word == "SIGNED":
            unsigned = False
        elif word == "CHARSET" or (word in ("CHARACTER", "CHAR") and _next_word(tokens, i) == "SET"):
            i += 1 if word == "CHARSET" else 2
            charset = name_at(tokens, i).lower()
        elif word == "COLLATE":
            i += 1
            collation = name_at(tokens, i)
        elif word == "ASCII":
            charset = "latin1"
        elif word == "UNICODE":
            charset = "ucs2"
        elif word == "BYTE" and data_type in ("char", "varchar"):
            data_type = "binary" if data_type == "char" else "varbinary"
        elif word == "FIRST":
            placement = Placement(first=True)
        elif word == "AFTER":
            i += 1
            placement = Placement(after=name_at(tokens, i))
        i += 1
    column = _column(name, data_type, unsigned, national, charset, collation, values,
                     table_charset)
    return replace(column, column_type=_column_type(column, arguments), nullable=nullable), placement


def _column_type(column: ColumnDef, arguments: str) -> str:
    """COLUMN_TYPE as far as the statement tells it: ``decimal(65,30)``, ``bit(10)``,
    ``int unsigned`` (no display width; a type without arguments takes its defaults)."""
    text = f"{column.data_type}({arguments.lower()})" if arguments else column.data_type
    return f"{text} unsigned" if column.unsigned else text


def _column(name: str, data_type: str, unsigned: bool, national: bool, charset: str,
            collation: str, values: tuple[str, ...], table_charset: str) -> ColumnDef:
    if data_type in BINARY_TYPES or data_type in _STORED_AS_BYTES:
        return ColumnDef(name, data_type, charset="binary")
    if data_type == "json":
        # MySQL's binary JSON has no charset; MariaDB's JSON is utf8mb4 LONGTEXT.
        return ColumnDef(name, data_type, charset="utf8mb4")
    if data_type in TEXT_TYPES or data_type in CHOICE_TYPES:
        chosen = charset or (charset_of_collation(collation) if collation else "")
        if national and not chosen:
            chosen = "utf8mb3"
        chosen = chosen or table_charset
        if chosen == "binary" and data_type in TEXT_TYPES:
            data_type = {"char": "binary", "varchar": "varbinary"}.get(
                data_type, data_type.replace("text", "blob"))
        return ColumnDef(name, data_type, charset=chosen, values=values)
    return ColumnDef(name, data_type, unsigned and data_type in SIGNED_NUMBERS)
