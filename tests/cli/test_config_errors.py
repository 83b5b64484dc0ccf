"""Every configuration mistake is one line naming the variable and what it accepts, exit code 5.

The CLI runs for real with the bad environment; the messages come from
``job_importer/settings.py``, so every process (workers, API, scheduler) says the same.
"""

from __future__ import annotations

import pytest

from cli import exitcodes
from job_importer.settings import ConfigError, Settings, load_settings
from tests.cli.helpers import cli

CASES = [
    ({"SCHEDULE_CRON": "every hour"}, "SCHEDULE_CRON='every hour': not a cron expression; expected a cron expression of 5 fields"),
    ({"REDIS_URL": "http://127.0.0.1:6380/0"}, "REDIS_URL='http://127.0.0.1:6380/0': not a Redis URL; expected redis://"),
    ({"MONGODB_URL": "127.0.0.1:27018"}, "MONGODB_URL='127.0.0.1:27018': not a MongoDB URL; expected mongodb://"),
    ({"WORKER_BATCH_SIZE": "abc"}, "WORKER_BATCH_SIZE='abc': Input should be a valid integer, unable to parse string as an integer; expected an integer from 1 to 5000"),
    ({"WORKER_BATCH_SIZE": "0"}, "WORKER_BATCH_SIZE='0': Input should be greater than or equal to 1; expected an integer from 1 to 5000"),
    ({"FEEDS_FILE": "/nonexistent/feeds.toml"}, "FEEDS_FILE='/nonexistent/feeds.toml': no such file; expected the path of a readable TOML file"),
    ({"FEEDS": "ftp://example.org/jobs"}, "FEEDS='ftp://example.org/jobs': 'ftp://example.org/jobs' is not an http(s) URL; expected comma-separated http(s) URLs"),
    ({"METRICS_ENABLED": "maybe"}, "METRICS_ENABLED='maybe': Input should be a valid boolean, unable to interpret input; expected true or false"),
    ({"FETCH_READ_TIMEOUT_S": "soon"}, "FETCH_READ_TIMEOUT_S='soon': Input should be a valid number, unable to parse string as a number; expected a number"),
]  # fmt: skip


@pytest.mark.parametrize(("env", "message"), CASES, ids=[next(iter(env)) for env, _ in CASES])
def test_a_bad_setting_is_one_line_naming_it(env: dict[str, str], message: str) -> None:
    result = cli(None, "runs", **env)
    assert result.returncode == exitcodes.BAD_CONFIG, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"configuration error: {message}"), line


def test_two_mistakes_are_two_lines() -> None:
    result = cli(None, "queues", SCHEDULE_CRON="nope", WORKER_PROCESSES="many")
    assert result.returncode == exitcodes.BAD_CONFIG
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and {line.split("=")[0] for line in lines} == {
        "configuration error: WORKER_PROCESSES", "configuration error: SCHEDULE_CRON",
    }  # fmt: skip


def test_credentials_in_a_bad_url_and_secrets_are_not_shown(monkeypatch) -> None:
    result = cli(None, "runs", REDIS_URL="http://user:s3cret@127.0.0.1:6380/0")
    assert "s3cret" not in result.stderr and "http://***@127.0.0.1:6380/0" in result.stderr
    monkeypatch.setenv("API_PORT", "x")
    with pytest.raises(ConfigError, match=r"^API_PORT='x': .*; expected an integer from 1 to 65535$"):
        load_settings(api_token="tok-s3cret")


def test_a_feeds_file_that_is_not_toml_is_named_when_read(tmp_path) -> None:
    broken = tmp_path / "feeds.toml"
    broken.write_text('[[feeds]]\nurl = "https://example.org/feed\n', encoding="utf-8")
    settings = Settings(feeds_file=broken)
    with pytest.raises(
        ConfigError, match=rf"^FEEDS_FILE='{broken}': .*; expected the path of a readable TOML file"
    ):
        settings.feed_configs()
    result = cli(None, "import", FEEDS_FILE=str(broken), REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == exitcodes.BAD_CONFIG and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"configuration error: FEEDS_FILE='{broken}'")


def test_good_settings_pass() -> None:
    assert (
        load_settings(schedule_cron="*/5 * * * * 30", redis_url="unix:///run/redis.sock").worker_batch_size
        == 100
    )
