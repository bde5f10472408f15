"""Where a job's data lands: each sink applies or publishes, and keeps its own checkpoint."""
