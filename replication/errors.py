"""The engine's one error hierarchy. The API's exception handler maps each class to a status."""

from __future__ import annotations


class ReplicationError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(ReplicationError):
    """The job configuration cannot work (bad rule, bad regex, bad password encryption)."""


class ConnectError(ReplicationError):
    """A database or broker could not be reached or refused the login."""


class SourceError(ReplicationError):
    """The source cannot be replicated from correctly (binlog off, not ROW, purged position)."""


class TargetError(ReplicationError):
    """Applying to the target failed for a reason a retry will not fix."""


class UnsupportedDDL(ReplicationError):
    """A DDL statement the engine cannot replicate correctly; the task stops with this reason."""


class Stopped(ReplicationError):
    """Raised inside a loop when its stop signal fired; the task exits cleanly."""
