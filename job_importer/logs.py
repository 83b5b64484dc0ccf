"""How every process logs: one level (``LOG_LEVEL``), text or JSON lines (``LOG_FORMAT``).

Each kind of process calls :func:`configure_logging` once at start: the API and the scheduler
(``cli/processes.py``) and the worker processes (:func:`job_importer.worker.start_worker_process`).
Dramatiq's CLI has set up the workers' handlers by then (they write to a pipe its main process
reads); they are kept, and only their format and level change. httpx logs every request at INFO
(each feed download): it is quiet unless ``LOG_LEVEL=DEBUG``. Every record is redacted
(:func:`job_importer.redact.install_log_redaction`) whatever the format.

In JSON each line is one object: ``time``, ``level``, ``logger``, ``message``, plus the fields a
caller passes in ``extra`` (the run outcome line carries ``run_id``, ``feed``, the counts and
``duration_ms``; the access log ``method``, ``path``, ``status``, ``duration_ms``, ``client``).
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from job_importer.redact import install_log_redaction
from job_importer.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries that log routine traffic at INFO: quiet unless LOG_LEVEL=DEBUG.
CHATTY = ("httpx", "httpcore")


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings, *, keep_text_format: bool = False) -> None:
    """Set the root level and format (adding a stderr handler when there is none), quiet httpx.

    ``keep_text_format``: leave existing handlers' text format alone (Dramatiq's names the process
    and thread, which a worker's log needs); JSON replaces it regardless.
    """
    install_log_redaction()
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
        keep_text_format = False
    if settings.log_format == "json" or not keep_text_format:
        for handler in root.handlers:
            handler.setFormatter(formatter(settings.log_format))
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING)
