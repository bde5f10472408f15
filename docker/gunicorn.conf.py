"""gunicorn settings for the API (``gunicorn dtleweb.wsgi -c docker/gunicorn.conf.py``).

Each setting can be changed through the environment named beside it; docs/operations.md says
why each default is what it is.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("DTLE_API_BIND", "0.0.0.0:8190")
# Threads, because the MySQL routes wait on remote servers (up to the 5 s connect timeout).
worker_class = "gthread"
workers = int(os.environ.get("DTLE_GUNICORN_WORKERS", str(min(4, multiprocessing.cpu_count() + 1))))
threads = int(os.environ.get("DTLE_GUNICORN_THREADS", "8"))
# Validation checks two servers one after the other; 60 s leaves room for both to time out.
timeout = int(os.environ.get("DTLE_GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Workers are replaced now and then, so a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200
# Only proxies listed here may set X-Forwarded-For (which the login throttle reads).
forwarded_allow_ips = os.environ.get("DTLE_FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
# %(U)s is the path without the query string: dtle's GET /v2/mysql/* carry mysql_password there.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("DTLE_LOG_LEVEL", "info").lower()
