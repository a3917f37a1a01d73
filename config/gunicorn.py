"""gunicorn's settings for `make serve` (`gunicorn -c config/gunicorn.py config.wsgi`).

Stateless workers: sessions, throttles and lockouts live in the database (or Redis), so
any number of workers and servers may share one PostgreSQL. Each request is logged by the
application as one JSON line (config/logging.py); gunicorn's own access log stays off —
it would print paths, which carry patient codes.
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
# Two threads per worker (gunicorn's gthread worker): while one waits for PostgreSQL, the
# other runs, and a client's connection is kept alive between its requests. Measured on
# the API's bag list (2 workers, wrk at 8 connections, docs/performance.md section 4):
# ~1.5x the requests/s of one thread, with a lower p99; 4 threads did no better. Request
# state is per thread (the audit context and the replica routing are context variables).
threads = int(os.environ.get("WEB_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Proxies whose X-Forwarded-Proto gunicorn believes (Django has its own settings for the
# client address: TRUSTED_PROXY_COUNT).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Limits on what a client may send before Django sees it.
limit_request_line = 8190
limit_request_fields = 100
