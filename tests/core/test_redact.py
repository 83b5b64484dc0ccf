"""Credentials in URLs are redacted in text and in every log record."""

from __future__ import annotations

import io
import logging

import pytest

from job_importer.redact import install_log_redaction, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:secret@jobs.example/feed", "https://***@jobs.example/feed"),
        ("redis://:secret@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
        ("mongodb://u:p@ss@h1:27017,h2:27017/db?tls=true", "mongodb://***@h1:27017,h2:27017/db?tls=true"),
        ("mongodb+srv://admin:hunter2@cluster0.example.net/", "mongodb+srv://***@cluster0.example.net/"),
        ("feed {'url': 'http://a:b@h/x'} failed", "feed {'url': 'http://***@h/x'} failed"),
        ("http://h/x?email=a@b.example", "http://h/x?email=a@b.example"),  # not userinfo
        ("mail me at a@b.example", "mail me at a@b.example"),
    ],
)
def test_userinfo_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_log_records_are_redacted_in_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    previous = logging.getLogRecordFactory()
    try:
        install_log_redaction()
        install_log_redaction()  # idempotent
        logger.warning("fetching %s", "https://user:s3cret@jobs.example/feed")
        try:
            raise ValueError("could not reach redis://:s3cret@127.0.0.1:6379/0")
        except ValueError:
            logger.exception("failed message fetch_feed(%r)", {"url": "http://u:s3cret@h/x"})
    finally:
        logging.setLogRecordFactory(previous)
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "s3cret" not in output
    assert "https://***@jobs.example/feed" in output and "redis://***@127.0.0.1" in output
    assert "ValueError" in output  # the traceback is still there
