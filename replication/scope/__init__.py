"""What a job replicates and under which names: table filters, row filters, DDL scope."""
