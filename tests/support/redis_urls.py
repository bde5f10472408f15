"""The Redis databases the tests use, moved by ``DTLE_TEST_REDIS_URL`` / ``DTLE_TEST_E2E_REDIS_URL``
so two checkouts can run their suites at once."""

from __future__ import annotations

import os

REDIS_TEST_URL = os.environ.get("DTLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# The end-to-end cluster's broker and state; flushed by those tests, so a database of its own.
E2E_REDIS_URL = os.environ.get("DTLE_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/13")
