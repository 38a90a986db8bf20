"""``cairn events tail``: the event log on a terminal, one line per event.

Follows the store directly (no API, no token): start at the log's head, or at
--from POSITION|TIME, and print every event that matches the filters as it is
committed, until Ctrl-C, which prints the position reached (give it to --from
to go on from there). Filters combine: --type takes shell wildcards
(--type 'Server*') and may repeat, as may --category (server, project...).
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import sys
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

from cairn.audit.queries import names_resource
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
    add_store_options(tail)
    tail.add_argument(
        "--type", action="append", metavar="PATTERN", help="event type, wildcards allowed"
    )
    tail.add_argument("--category", action="append", metavar="NAME", help="stream category")
    tail.add_argument("--project", metavar="ID", help="events whose metadata names this project")
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
    """One predicate for every filter given."""
    types = [re.compile(fnmatch.translate(p)) for p in args.type or ()]
    categories = set(args.category or ())
    resource = args.resource
    project_needle = None
    if args.project:
        import msgspec

        project_needle = b'"project_id":' + msgspec.json.encode(args.project)

    def match(event: Any) -> bool:
        if types and not any(t.match(event.type) for t in types):
            return False
        if categories and event.category not in categories:
            return False
        if resource is not None and not names_resource(event.stream, resource):
            return False
        return project_needle is None or (
            project_needle in event.raw_metadata and event.metadata.project_id == args.project
        )

    return match


def line(event: Any) -> str:
    metadata = event.metadata
    who = " ".join(
        f"{k}={v}" for k, v in (("user", metadata.user_id), ("project", metadata.project_id)) if v
    )
    data = event.data.decode("utf-8", "replace")
    if len(data) > 120:
        data = data[:119] + "…"
    at = event.recorded_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return (
        f"#{event.position:<8} {at}  {event.stream} v{event.version}  {event.type}  {who}  {data}"
    )


def _tail(args: argparse.Namespace) -> int:
    from cairn.audit.queries import event_row
    from cairn.audit.render import to_json

    if args.count is not None and args.count < 1:
        args.parser.error("--count must be at least 1")
    match = matcher(args)
    reached: dict[str, int | None] = {"position": None}

    async def main() -> int:
        from cairn.audit import BadPoint, parse_point, position_at
        from cairn.audit.scan import event_pages
        from cairn.audit.store import open_existing

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
            shown = 0

            def show(event: Any) -> bool:
                nonlocal shown
                reached["position"] = event.position
                if not match(event):
                    return False
                text = to_json(event_row(event)) if args.format == "json" else line(event)
                print(text, flush=True)
                shown += 1
                return args.count is not None and shown >= args.count

            if args.no_follow:
                async with aclosing(event_pages(store, after=after, upto=head)) as pages:
                    async for page in pages:
                        for event in page:
                            if show(event):
                                return 0
            else:
                async for event in store.subscribe(after=after):
                    if show(event):
                        return 0
        return 0

    try:
        return run_async(main)
    except KeyboardInterrupt:
        print(f"stopped at position {reached['position']}", file=sys.stderr, flush=True)
        return 0
