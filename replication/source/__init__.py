"""Reading the source: the consistent snapshot, the binlog, and the row decoders."""
