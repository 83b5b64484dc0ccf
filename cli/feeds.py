"""`job-importer feeds`: the feed registry from the command line, as ``/feeds`` has it.

Feeds added here are managed at run time ("api"), as those added through the API: the config
never touches them, and their fetches pass the SSRF guard (API_ALLOW_PRIVATE_FEEDS lets private
hosts through). Config feeds may be enabled and disabled here, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from cli import exitcodes
from cli.console import emit_json, fail
from cli.tables import Listing, show
from job_importer import feed_registry
from job_importer.db import open_store
from job_importer.feed_registry import RegisteredFeed
from job_importer.settings import FeedSpec, get_settings
from job_importer.views import public_feed

feeds_app = typer.Typer(
    no_args_is_help=True, help="The feed registry: list, add, change, pause and remove feeds."
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the API's field names)")]
FeedArgument = Annotated[str, typer.Argument(help="The feed's id or URL (`feeds list` shows them)")]
SourceOption = Annotated[str | None, typer.Option(help="Provider name; default: the URL's host")]
CategoryOption = Annotated[str | None, typer.Option(help="Category given to its jobs")]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="Source format (docs/formats.md); default auto")
]
ItemsOption = Annotated[str | None, typer.Option(help="The item list: an element path or a JSON pointer")]
FieldOption = Annotated[
    list[str] | None, typer.Option("--field", help="job field=path within an item (repeatable)")
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        help="Header=NAME: NAME of an env variable or FEED_SECRETS_DIR file, never a value (repeatable)",
    ),
]
ScheduleOption = Annotated[
    str | None, typer.Option(help="Cron expression; 'default' for SCHEDULE_CRON", show_default=False)
]
ExpireOption = Annotated[
    bool | None,
    typer.Option("--expire-missing/--keep-missing", help="Expire listings absent from a complete fetch"),
]
AfterDaysOption = Annotated[
    int | None, typer.Option(min=1, help="Expire listings not seen for this many days")
]
FractionOption = Annotated[
    float | None, typer.Option(min=0.01, max=1.0, help="Skip an expiry of more than this share of listings")
]


def _pairs(values: list[str] | None, option: str) -> dict[str, str] | None:
    """``name=value`` options as a mapping (None when none were given)."""
    if values is None:
        return None
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise typer.BadParameter(f"{value!r} is not name=value", param_hint=option)
        pairs[name.strip()] = rest.strip()
    return pairs


#: The options of `add` and `update` that set a feed's fields, and the fields they set.
_FIELD_OPTIONS = {
    "url": "url", "source": "source", "category": "category", "format_": "format", "items": "items",
    "field": "fields", "header": "headers", "schedule": "schedule", "expire_missing": "expire_missing",
    "expire_after_days": "expire_after_days", "expire_max_fraction": "expire_max_fraction",
}  # fmt: skip


def _given(options: Mapping[str, Any]) -> dict[str, Any]:
    """The field options given (None: left out) of a command's ``locals()``, as registry fields."""
    changes = {
        name: options[option] for option, name in _FIELD_OPTIONS.items() if options.get(option) is not None
    }
    for name, option in (("fields", "--field"), ("headers", "--header")):
        if name in changes:
            changes[name] = _pairs(changes[name], option)
    if changes.get("schedule") == "default":
        changes["schedule"] = None
    return changes


def _print(feeds: list[RegisteredFeed], as_json: bool, *, one: bool = False) -> None:
    """The feeds as a listing, or as JSON: a list, or ``one`` feed (as GET /feeds/{id})."""
    settings, at = get_settings(), datetime.now(UTC)
    shown = [public_feed(feed, settings.schedule_cron, at) for feed in feeds]
    if as_json:
        emit_json(shown[0] if one else shown)
        return
    listing = Listing(
        "Feeds",
        ("id", "url", "source", "schedule", "on", "by", "last run", "fails", "active", "next fetch"),
        numeric=frozenset({"fails", "active"}),
    )
    for feed in shown:
        health, last = feed["health"], feed["health"]["last_run"]
        listing.add(
            feed["id"], feed["url"], feed["source"], feed["schedule"] or "default", "yes" if feed["enabled"] else "no",
            feed["managed_by"], f"{last['status']} {last['at']:%Y-%m-%d %H:%M}" if last else "never",
            health["consecutive_failures"], health["active_listings"],
            f"{health['next_fetch']:%Y-%m-%d %H:%M}" if health["next_fetch"] else "",
        )  # fmt: skip
    show(listing)


def _change(action: Callable[[], RegisteredFeed], as_json: bool) -> None:
    """Make a registry change, print the feed; refusals as one line and an exit code."""
    try:
        feed = action()
    except feed_registry.FeedNotFound as exc:
        raise fail(str(exc), exitcodes.NOT_FOUND) from None
    except feed_registry.RegistryError as exc:
        raise fail(str(exc), exitcodes.USAGE) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise fail(f"not a valid feed: {problems}", exitcodes.USAGE) from None
    _print([feed], as_json, one=True)


@feeds_app.command("list")
def list_(
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Only enabled (or disabled) feeds")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every feed of the registry with its health and next fetch."""
    _print(feed_registry.list_feeds(open_store(get_settings()), enabled=enabled), as_json)


@feeds_app.command()
def add(
    url: Annotated[str, typer.Argument(help="The feed's http(s) URL")],
    source: SourceOption = None,
    category: CategoryOption = None,
    format_: FormatOption = None,
    items: ItemsOption = None,
    field: FieldOption = None,
    header: HeaderOption = None,
    schedule: ScheduleOption = None,
    expire_missing: ExpireOption = None,
    expire_after_days: AfterDaysOption = None,
    expire_max_fraction: FractionOption = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it paused")] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a feed; it is fetched from the next slot of its schedule on."""
    if not url.lower().startswith(("http://", "https://")):
        raise typer.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URL")
    fields = _given(locals())
    store = open_store(get_settings())
    _change(
        lambda: feed_registry.add_feed(store, FeedSpec.model_validate({**fields, "enabled": not disabled})),
        as_json,
    )


@feeds_app.command()
def update(
    feed: FeedArgument,
    url: Annotated[str | None, typer.Option(help="A new URL")] = None,
    source: SourceOption = None,
    category: CategoryOption = None,
    format_: FormatOption = None,
    items: ItemsOption = None,
    field: FieldOption = None,
    header: HeaderOption = None,
    schedule: ScheduleOption = None,
    expire_missing: ExpireOption = None,
    expire_after_days: AfterDaysOption = None,
    expire_max_fraction: FractionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a feed added at run time (the options given; --field/--header replace the lot)."""
    changes = _given(locals())
    store = open_store(get_settings())
    _change(lambda: feed_registry.update_feed(store, feed, changes), as_json)


@feeds_app.command()
def enable(feed: FeedArgument, as_json: JsonOption = False) -> None:
    """Schedule a feed again, from its next slot (config feeds too)."""
    store = open_store(get_settings())
    _change(lambda: feed_registry.set_enabled(store, feed, True), as_json)


@feeds_app.command()
def disable(feed: FeedArgument, as_json: JsonOption = False) -> None:
    """Stop scheduling a feed (config feeds too); runs under way finish."""
    store = open_store(get_settings())
    _change(lambda: feed_registry.set_enabled(store, feed, False), as_json)


@feeds_app.command()
def remove(feed: FeedArgument, as_json: JsonOption = False) -> None:
    """Remove a feed added at run time from the registry; its runs and listings stay."""
    store = open_store(get_settings())
    _change(lambda: feed_registry.remove_feed(store, feed), as_json)
