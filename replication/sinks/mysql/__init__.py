"""The MySQL sink: full-copy chunks and binlog transactions applied exactly once."""
