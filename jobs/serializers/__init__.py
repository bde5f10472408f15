"""Serializers: the job-config schema (``config``) and the shapes of the API's answers."""

from __future__ import annotations

from jobs.serializers.config import (
    JobConfigSerializer,
    KafkaDestTaskSerializer,
    MySQLConnectionConfigSerializer,
    MySQLDestTaskSerializer,
    SchemaRuleSerializer,
    SrcTaskSerializer,
    SubscriptionJobConfigSerializer,
    TableRuleSerializer,
    config_serializer_class,
    to_job_config,
)

__all__ = [
    "JobConfigSerializer",
    "KafkaDestTaskSerializer",
    "MySQLConnectionConfigSerializer",
    "MySQLDestTaskSerializer",
    "SchemaRuleSerializer",
    "SrcTaskSerializer",
    "SubscriptionJobConfigSerializer",
    "TableRuleSerializer",
    "config_serializer_class",
    "to_job_config",
]
