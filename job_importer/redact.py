"""Keeping credentials out of logs and the import history: URLs lose their userinfo.

Feed URLs may carry a user and password (``https://user:secret@host/feed``), as may REDIS_URL and
MONGODB_URL. They come from the environment (Secrets) and must stay there: what is stored or
logged shows ``https://***@host/feed``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# scheme://userinfo@ -- userinfo runs to the last "@" before the host's "/", "?" or "#".
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s@]*(?:@[^/?#\s@]*)*@")


def redact(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\g<scheme>***@", text) if "@" in text else text


def install_log_redaction() -> None:
    """Redact every log record of this process: its message, arguments and traceback.

    A record factory rather than a handler filter, so that it holds whoever configures the
    handlers (Dramatiq's CLI does, in each worker process) and covers third-party loggers: Dramatiq
    logs failed messages with their arguments (a feed's URL), httpx logs request URLs.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        except Exception:  # a malformed record is logging's to report, not ours
            pass
        return record

    factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
