"""Logs as one JSON object per line, without paths.

`JsonFormatter` writes time, level, logger and message, plus the request fields that
`core.middleware.RequestLogMiddleware` attaches (method, route, view, status,
duration_ms, user_id, request_id) and any exception. `WithoutPaths` rewrites Django's
own request warnings ("Not Found: /pharmacy/patient/SAL-P01/") to name the URL pattern
instead: paths carry patient codes, and a log is read by people who may not see them.
"""

from __future__ import annotations

import datetime
import json
import logging

REQUEST_FIELDS = ("method", "route", "view", "status", "duration_ms", "user_id", "request_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in REQUEST_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class WithoutPaths(logging.Filter):
    """Replace a request's path in a log message by its URL pattern (or "<path>")."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if path:
            match = getattr(request, "resolver_match", None)
            message = record.getMessage().replace(path, f"<{match.route}>" if match else "<path>")
            record.msg, record.args = message, None
        return True


def logging_config(level: str) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"without_paths": {"()": "config.logging.WithoutPaths"}},
        "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["without_paths"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "celltrack.request": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
