"""Tables with a column of every type the copy and the binlog decoder handle, and rows at the
edges of each type's range (NULL, zero dates, extreme numbers, multi-byte text, binary):
``TYPES_*`` for the full copy, ``BINLOG_*`` (a table's columns and its rows) for the binlog path."""

from __future__ import annotations

TYPES_DDL = """CREATE TABLE types (
  id INT PRIMARY KEY, d DECIMAL(65,30), dn DECIMAL(10,2) UNSIGNED, dt DATETIME(6),
  ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR, b1 BIT(1), b64 BIT(64),
  e ENUM('a','b','c'), st SET('x','y','z'), j JSON, bn BINARY(4), vb VARBINARY(64), bl BLOB,
  u VARCHAR(64) CHARACTER SET utf8mb4, l VARCHAR(64) CHARACTER SET latin1,
  g VARCHAR(64) CHARACTER SET gbk, tx TEXT, ub BIGINT UNSIGNED, sb BIGINT, ti TINYINT,
  f FLOAT, db DOUBLE, dz DATE, dtz DATETIME, ch CHAR(8),
  gen INT AS (id * 2) VIRTUAL, gens VARCHAR(80) AS (CONCAT(u, '!')) PERSISTENT
) DEFAULT CHARSET=utf8mb4"""

TYPES_ROWS = [
    "(1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, DEFAULT, DEFAULT)",
    "(2, '12345678901234567890.123456789012345678901234567890', 99999999.99,"
    " '2024-02-29 23:59:59.999999', '2038-01-19 03:14:07.999999', '-838:59:59.000000', 2155,"
    " b'1', b'1111111111111111111111111111111111111111111111111111111111111111', 'c', 'x,z',"
    " '{\"k\": [1, 2.5, \"\\\\u00e9\"], \"n\": null}', x'00ff2700', x'5c27000d0a1a80fe',"
    " x'000102035c27fffe', 'emoji \U0001F600 and \\\\ backslash', 'caf\u00e9 na\u00efve',"
    " '\u4e2d\u6587\u6d4b\u8bd5', 'line\\nbreak\\ttab', 18446744073709551615,"
    " -9223372036854775808, -128, 1.2345678, 0.30000000000000004, '0000-00-00',"
    " '0000-00-00 00:00:00', 'pad  ', DEFAULT, DEFAULT)",
    "(3, -0.000000000000000000000000000001, 0, '1000-01-01 00:00:00.000001',"
    " '1970-01-01 00:00:01.000000', '838:59:59.999999', 0, b'0', b'0', 'a', '', '[]', x'',"
    " x'', x'', '', '', '', '', 0, 0, 0, -3.4e38, -1.7976931348623157e308, '2020-00-00',"
    " '2020-01-00 10:00:00', '', DEFAULT, DEFAULT)",
    "(4, 1, 1, '2021-03-28 02:30:00', '2021-03-28 01:30:00', '100:00:00', 1901, b'1', b'101',"
    " 'b', 'x,y,z', '\"str\"', 'ab\\\\c', '''quoted''', 'blob', 'O''Reilly \\\"q\\\"',"
    " '\u00ff\u00e9', '\u9f98\u9f99', 'x', 1, 1, 1, 1e-40, 5e-324, '9999-12-31',"
    " '9999-12-31 23:59:59', 'abc', DEFAULT, DEFAULT)",
]

BINLOG_COLUMNS = """
  id INT PRIMARY KEY,
  d DATE NULL, dn DATE NOT NULL DEFAULT '2000-01-01',
  dt DATETIME(6) NULL, dt0 DATETIME NULL, ts TIMESTAMP(3) NULL DEFAULT NULL,
  tm TIME(6) NULL, tm1 TIME(1) NULL, y YEAR NULL,
  dec1 DECIMAL(65,30) NULL, dec2 DECIMAL(10,0) UNSIGNED NULL, f FLOAT NULL, db DOUBLE NULL,
  b BIT(10) NULL, e ENUM('a','b','c') NULL, s SET('x','y','z') NULL,
  vc VARCHAR(20) CHARACTER SET latin1 NULL, g VARCHAR(20) CHARACTER SET gbk NULL,
  u8 VARCHAR(20) CHARACTER SET utf8mb4 NULL, bin BINARY(4) NULL, vb VARBINARY(8) NULL,
  bl BLOB NULL, tx TEXT NULL, js JSON NULL, big BIGINT UNSIGNED NULL
"""

BINLOG_ROWS = [
    "(1, '0000-00-00', '0000-00-00', '0000-00-00 00:00:00', '2024-00-15 10:00:00', NULL,"
    " '-838:59:59.000000', '-00:00:01.5', 0,"
    " -99999999999999999999999999999999999.999999999999999999999999999999,"
    " 9999999999, 1.5, -2.2250738585072014e-308, b'1010101010', 'b', 'x,z', 'caf\xe9', '中文',"
    " '😀 ok', 'ab', 0x00ff, 0x00010203, 'long text', '{\"k\": [1, 2.5, null]}', 18446744073709551615)",
    "(2, '2024-02-00', '1000-01-01', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01',"
    " '2038-01-19 03:14:07.999', '838:59:59.999999', '25:00:00.1', 2155, 0.000000000000000000000000000001,"
    " 0, -0.0, 1e308, b'0', '', '', '', '', '', '', '', '', '', '[]', 0)",
    "(3, NULL, '2024-02-29', '2024-02-29 12:34:56.700000', NULL, '1970-01-01 00:00:01.5',"
    " '-00:00:00.000001', '00:00:00', 1901, 12.3, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]
