"""``cairn events tail``: the event log on a terminal, one line per event.

Two ways to reach the log, with the same filters and the same output:

* through a cloud's API (--url, or --os-cloud to take the URL and a login from
  clouds.yaml), with an identity token (--token or OS_TOKEN, else a password
  login from clouds.yaml): what GET /events/v1/stream delivers, so a project
  member sees its project's events only, and a stream cut off because the
  terminal fell behind is resumed where it stopped;
* from the event store directly (--data-dir, --store, as cairn up and cairn
  audit find it), with no API and no token: for an operator on the host, on
  a running or a stopped cloud.

Start at the log's head, or at --from POSITION|TIME (inclusive), and print
every event that matches the filters as it is committed, until Ctrl-C, which
prints the position reached (give --from that plus one to go on from there).
Filters combine: --type takes shell wildcards (--type 'Server*') and may
repeat, as may --category (server, project...); --project keeps the events
of one project (from its metadata or its payload). Secrets are withheld
either way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import aclosing
from datetime import datetime
from typing import Any

from cairn.cli.audit import add_store_options, run_async, store_url
from cairn.cli.text import for_people


def register(commands: Any) -> None:
    events: argparse.ArgumentParser = commands.add_parser(
        "events", help="follow the event log", description="Read the event log."
    )
    sub = events.add_subparsers(
        dest="events_command", metavar="COMMAND", required=True, parser_class=type(events)
    )
    events.set_defaults(parser=events)
    tail = sub.add_parser(
        "tail",
        help="print events as they are committed",
        description=for_people(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    api = tail.add_argument_group("through the API")
    api.add_argument("--url", metavar="URL", help="the cloud's base URL (http://HOST:PORT)")
    api.add_argument(
        "--token", metavar="TOKEN", help="an identity token; env OS_TOKEN (default: log in "
        "with the password of --os-cloud, or of env OS_CLOUD's cloud)",
    )  # fmt: skip
    api.add_argument(
        "--os-cloud", metavar="NAME", help="a cloud of clouds.yaml: its URL and login",
    )  # fmt: skip
    store = tail.add_argument_group("from the event store (when neither --url nor --os-cloud)")
    add_store_options(store)
    tail.add_argument(
        "--type", action="append", metavar="PATTERN", help="event type, wildcards allowed"
    )
    tail.add_argument("--category", action="append", metavar="NAME", help="stream category")
    tail.add_argument("--project", metavar="ID", help="events of this project")
    tail.add_argument(
        "--resource", metavar="ID", help="events of this stream, or of streams naming this id"
    )
    tail.add_argument(
        "--from", dest="start", metavar="POINT",
        help="start at this position (inclusive) or time; 0 for the whole log (default: the head)",
    )  # fmt: skip
    tail.add_argument("--count", type=int, metavar="N", help="stop after N matching events")
    tail.add_argument(
        "--no-follow", action="store_true", help="stop at the head instead of waiting for more"
    )
    tail.add_argument("--format", choices=("line", "json"), default="line", help="(default: line)")
    tail.set_defaults(run=_tail, parser=tail)


def matcher(args: argparse.Namespace) -> Callable[[Any], bool]:
    """One predicate over recorded events for every filter given (the store path):
    the stream's own selection, so both paths keep the same events."""
    from cairn.stream.filters import Selection
    from cairn.stream.item import make_item

    selection = Selection(
        tuple(args.type or ()),
        frozenset(args.category or ()),
        args.resource,
        frozenset({args.project}) if args.project else None,
    )
    if selection.everything:
        return lambda event: True
    return lambda event: selection.matches(make_item(event))


def line(row: dict[str, Any]) -> str:
    """One event (a row of :func:`cairn.audit.queries.event_row`) on one line."""
    who = " ".join(f"{k}={row[k]}" for k in ("user", "project") if row[k])
    from cairn.audit.render import to_json

    data = to_json(row["data"])
    if len(data) > 120:
        data = data[:119] + "…"
    at = datetime.fromisoformat(row["at"]).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return (
        f"#{row['position']:<8} {at}  {row['stream']} v{row['version']}  {row['type']}  "
        f"{who}  {data}"
    )


class Printer:
    """Prints matching rows; says when ``--count`` is reached."""

    def __init__(self, args: argparse.Namespace) -> None:
        from cairn.audit.render import to_json

        self.as_json = args.format == "json"
        self.to_json = to_json
        self.limit: int | None = args.count
        self.shown = 0

    def show(self, row: dict[str, Any]) -> bool:
        print(self.to_json(row) if self.as_json else line(row), flush=True)
        self.shown += 1
        return self.limit is not None and self.shown >= self.limit


def _tail(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        args.parser.error("--count must be at least 1")
    reached: dict[str, Any] = {"position": None}
    remote = bool(args.url or args.os_cloud)
    main = _tail_api(args, reached) if remote else _tail_store(args, reached)
    try:
        return run_async(lambda: main)
    except KeyboardInterrupt:
        print(f"stopped at position {reached['position']}", file=sys.stderr, flush=True)
        return 0


async def _tail_store(args: argparse.Namespace, reached: dict[str, Any]) -> int:
    from cairn.audit import BadPoint, parse_point, position_at
    from cairn.audit.queries import event_row
    from cairn.audit.scan import event_pages
    from cairn.audit.store import open_existing

    match, printer = matcher(args), Printer(args)
    async with await open_existing(store_url(args)) as store:
        head = await store.head()
        if args.start is None:
            after = head
        else:
            try:
                point = parse_point(args.start)
            except BadPoint as exc:
                args.parser.error(str(exc))
            after = (
                max(point - 1, 0)
                if isinstance(point, int)
                else await position_at(store, point, head=head)
            )
        reached["position"] = after
        if args.no_follow:
            async with aclosing(event_pages(store, after=after, upto=head)) as pages:
                async for page in pages:
                    for event in page:
                        reached["position"] = event.position
                        if match(event) and printer.show(event_row(event)):
                            return 0
        else:
            async for event in store.subscribe(after=after):
                reached["position"] = event.position
                if match(event) and printer.show(event_row(event)):
                    return 0
    return 0


async def _tail_api(args: argparse.Namespace, reached: dict[str, Any]) -> int:
    import aiohttp

    from cairn.audit import BadPoint, parse_point
    from cairn.audit.queries import document_row
    from cairn.cli.login import Login, LoginError
    from cairn.stream.client import Position, StreamRefused, follow

    if args.no_follow:
        args.parser.error("--no-follow reads the store; through the API the stream follows")
    start = None
    if args.start is not None:
        try:
            point = parse_point(args.start)
        except BadPoint as exc:
            args.parser.error(str(exc))
        start = str(max(point - 1, 0)) if isinstance(point, int) else args.start
    query = {
        k: ",".join(v) if isinstance(v, list) else v
        for k, v in (("type", args.type), ("category", args.category),
                     ("resource", args.resource), ("project", args.project))
        if v
    }  # fmt: skip
    printer = Printer(args)
    async with aiohttp.ClientSession() as session:
        try:
            login = await Login.resolve(session, args.url, args.token, args.os_cloud)
        except LoginError as exc:
            args.parser.exit(1, f"cairn: error: {exc}\n")
        position = Position(start)
        reached["position"] = position
        try:
            async for document in follow(login.url, login.token, query, position,
                                         session=session):  # fmt: skip
                if printer.show(document_row(document)):
                    return 0
        except StreamRefused as exc:
            args.parser.exit(1, f"cairn: error: {exc}\n")
    return 0
