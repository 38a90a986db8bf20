"""``cairn audit``: verify, replay, history, who, diff and check, on the event log.

Works against a running or a stopped cloud, on PostgreSQL or SQLite: it finds
the store the way ``cairn up`` does (--data-dir, --store, CAIRN_DATA_DIR,
CAIRN_STORE) and only reads it. Answers are a table, or JSON with
--format json. Long passes show a progress bar on stderr when it is a terminal.

Points in time (--at, diff A B) are a position (1234) or an ISO time
(2026-11-21T14:03:00Z; without an offset, this machine's local time).

``cairn audit anchor`` signs the log's head (position and hash) for keeping
outside the log (--append FILE, --syslog ADDRESS); ``verify --anchor FILE``
then also checks that every anchored position still holds its hash, so a
rewrite of the whole log from some position on is found.

Exit status: 0 all is well; 3 the chain is broken or an anchor does not hold
(verify) or a read model diverges (check); 2 a usage error; 1 the store could
not be read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cairn.cli.text import for_people
from cairn.config import OPTIONS, Option, Settings

#: Exit status when the answer is "no": a broken chain, a diverging read model.
FINDING = 3
STORE_FIELDS = ("data_dir", "store")


def store_options() -> list[Option]:
    """The settings that say where the event store is, as ``cairn up`` reads them."""
    return [option for option in OPTIONS if option.field in STORE_FIELDS]


def add_store_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    for option in store_options():
        parser.add_argument(
            option.flag,
            dest=option.field,
            metavar=option.metavar,
            default=None,
            help=f"{option.help}; env {option.env}",
        )


def store_url(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> str:
    """The store ``cairn up`` would open with these flags and this environment.

    Only the store's own variables are read: a setting that matters to ``up``
    alone (a listen address, a policy file) cannot stop an audit.
    """
    return _settings(args, env).store_url


def _settings(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    others = {option.env for option in OPTIONS if option.field not in STORE_FIELDS}
    flags = {option.field: getattr(args, option.field) for option in store_options()}
    kept = {k: v for k, v in env.items() if k not in others}
    return Settings.resolve(flags, kept)


def anchor_key(args: argparse.Namespace) -> Path:
    """``--key``, or the anchor key in the data directory's ``keys/``."""
    from cairn.audit.anchor import KEY_FILE

    given: str | None = getattr(args, "key", None)
    return Path(given) if given else _settings(args).data_dir / "keys" / KEY_FILE


def run_async(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    import uvloop

    from cairn import logs

    logs.configure("warning", "console")
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main())
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def register(commands: Any) -> None:
    audit: argparse.ArgumentParser = commands.add_parser(
        "audit",
        help="verify, replay and question the event log",
        description=for_people(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = audit.add_subparsers(
        dest="audit_command", metavar="COMMAND", required=True, parser_class=type(audit)
    )
    audit.set_defaults(parser=audit)

    def command(name: str, help: str, run: Callable[[argparse.Namespace], int]) -> Any:
        parser = sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        add_store_options(parser)
        parser.add_argument(
            "--format", choices=("table", "json"), default="table", help="output (default: table)"
        )
        parser.set_defaults(run=run, parser=parser)
        return parser

    p = command("verify", "check the hash chain of the whole log (exit 3 when broken)", _verify)
    p.add_argument(
        "--jobs", type=_positive, metavar="N",
        help="processes hashing at once (default: up to 4 cores for a log of 200,000 "
        "events or more, else 1)",
    )  # fmt: skip
    p.add_argument(
        "--anchor",
        metavar="FILE",
        help="also check the anchors in FILE (JSON lines from 'cairn audit anchor'; - for "
        "stdin): each anchored position must still hold its anchored hash",
    )
    p.add_argument("--key", metavar="FILE", help="the anchor key (default: <data-dir>/keys/)")
    p = command(
        "anchor", "sign the log's head (position and hash) to keep outside the log", _anchor
    )
    p.add_argument("--key", metavar="FILE", help="the anchor key (default: <data-dir>/keys/)")
    p.add_argument("--append", metavar="FILE", help="also append the anchor line to FILE")
    p.add_argument(
        "--syslog",
        metavar="ADDRESS",
        help="also send it to a syslog sink: HOST:PORT (UDP) or a socket path (/dev/log)",
    )
    p = command("replay", "show what existed as of a past position or time", _replay)
    p.add_argument("--at", required=True, metavar="POINT", help="a position or an ISO time")
    p.add_argument(
        "names", nargs="*", metavar="NAME",
        help="projections to show (default: every registered one): 'streams' lists every "
        "stream with its category, version, last event and project; identity's are 'users', "
        "'projects', 'groups', 'roles' and 'assignments'",
    )  # fmt: skip
    p.add_argument("--project", metavar="ID", help="only what belongs to this project")
    p = command("history", "every event of a resource (a stream name or an id)", _history)
    p.add_argument("resource", metavar="RESOURCE")
    p.add_argument("--at", metavar="POINT", help="only up to this point (default: now)")
    p = command("who", "everything a user did or tried, rejected requests included", _who)
    p.add_argument("user", metavar="USER_ID")
    p.add_argument("--at", metavar="POINT", help="only up to this point (default: now)")
    p = command("diff", "what changed between two points, per stream", _diff)
    p.add_argument("a", metavar="A", help="the earlier point (position or time)")
    p.add_argument("b", metavar="B", help="the later point (position or time)")
    command(
        "check", "rebuild every projection and compare it with its snapshot (exit 3 on a "
        "divergence)", _check,
    )  # fmt: skip


# -- the commands ---------------------------------------------------------------


def _verify(args: argparse.Namespace) -> int:
    from cairn.audit import verify_chain
    from cairn.audit.render import hexify, to_json

    async def main() -> int:
        from cairn.audit.parallel import PARALLEL_FROM, default_jobs, verify_parallel

        url = store_url(args)
        async with await _open(args) as store:
            head = await store.head()
            progress = _progress("verify", head)
            jobs = args.jobs or (default_jobs() if head >= PARALLEL_FROM else 1)
            if jobs > 1:
                report = await verify_parallel(url, head, jobs=jobs, on_progress=progress)
            else:
                report = await verify_chain(store, on_progress=progress)
            progress.done()
            finding = await _check_anchors(args, store) if report.ok else None
        if args.format == "json":
            body: dict[str, Any] = {
                "ok": report.ok and finding is None,
                "verified": report.verified,
                "last_position": report.last_position,
                "head": report.head,
                "broken": None,
            }
            if args.anchor is not None:
                body["anchor"] = None if finding is None else finding.explain()
            if report.broken is not None:
                b = report.broken
                body["broken"] = {
                    "position": b.position, "stream": b.stream, "type": b.type,
                    "recorded_at": _micros_iso(b.recorded_micros), "mismatch": b.mismatch,
                    "expected": b.expected, "stored": b.stored, "explanation": b.explain(),
                }  # fmt: skip
            print(to_json(hexify(body)))
        elif report.broken is None and finding is not None:
            print(f"The chain holds but an anchor does not: {finding.explain()}.")
        elif report.broken is None:
            print(
                f"The chain holds: {report.verified:,} events verified, "
                f"positions 1 to {report.last_position:,}."
            )
            if args.anchor is not None:
                print("Every anchor holds.")
        else:
            b = report.broken
            print(f"The chain is BROKEN at position {b.position:,}: {b.explain()}.")
            print(f"  stream    {b.stream}")
            print(f"  type      {b.type}")
            print(f"  recorded  {_micros_iso(b.recorded_micros)}")
            what = "hash" if b.mismatch == "hash" else "link (prev_hash)"
            print(f"  {what}: expected {b.expected.hex()}, stored {b.stored.hex()}")
            print(
                f"{report.verified:,} events before it verified; the log's head is {report.head:,}."
            )
        return 0 if report.ok and finding is None else FINDING

    return run_async(main)


async def _check_anchors(args: argparse.Namespace, store: Any) -> Any:
    from cairn.audit.anchor import check_anchors, load_public_key, parse

    if args.anchor is None:
        return None

    def read() -> tuple[Any, str]:
        text = sys.stdin.read() if args.anchor == "-" else Path(args.anchor).read_text()
        return load_public_key(anchor_key(args)), text

    public, text = await asyncio.to_thread(read)
    return await check_anchors(store, public, parse(text))


def _anchor(args: argparse.Namespace) -> int:
    import msgspec

    from cairn.audit.anchor import head_of, load_or_make_key, sign

    async def main() -> int:
        key = await asyncio.to_thread(load_or_make_key, anchor_key(args))
        async with await _open(args) as store:
            position, digest = await head_of(store)
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        anchor = sign(key, position, digest, at)
        line = msgspec.json.encode(anchor).decode()
        print(line)
        if args.append:
            await asyncio.to_thread(_append_line, Path(args.append), line)
        if args.syslog:
            await asyncio.to_thread(_to_syslog, args.syslog, line)
        return 0

    return run_async(main)


def _append_line(path: Path, line: str) -> None:
    with path.open("a") as f:
        f.write(line + "\n")


def _to_syslog(address: str, line: str) -> None:
    import logging.handlers

    host, _, port = address.rpartition(":")
    target: str | tuple[str, int] = (host, int(port)) if host and port.isdigit() else address
    handler = logging.handlers.SysLogHandler(
        address=target, facility=logging.handlers.SysLogHandler.LOG_AUTH
    )
    try:
        message = "cairn-audit-anchor: %s"
        handler.emit(
            logging.LogRecord("cairn.audit", logging.WARNING, __file__, 0, message, (line,), None)
        )
    finally:
        handler.close()


def _replay(args: argparse.Namespace) -> int:
    _check_points(args, args.at)
    from cairn.audit import replay
    from cairn.audit.render import table, to_json
    from cairn.projections.catalog import catalog

    entries = _entries(args, catalog)

    async def main() -> int:
        async with await _open(args) as store:
            head = await store.head()
            upto = await _point(args, store, args.at, head)
            progress = _progress("replay", upto)
            result = await replay(store, catalog.projections(entries), upto=upto,
                                  on_progress=progress)  # fmt: skip
            progress.done()
        shown = {e.name: e.rows(result.states[e.projection.name], args.project) for e in entries}
        if args.format == "json":
            print(to_json({"position": result.position, "events": result.events, **shown}))
            return 0
        print(f"As of position {result.position:,} ({result.events:,} events replayed):")
        for entry in entries:
            rows = shown[entry.name]
            print(f"\n{entry.name}: {len(rows)}")
            if rows:
                print(table(entry.columns, rows))
        return 0

    return run_async(main)


def _history(args: argparse.Namespace) -> int:
    _check_points(args, args.at)
    from cairn.audit import history

    async def main() -> int:
        async with await _open(args) as store:
            head = await store.head()
            upto = head if args.at is None else await _point(args, store, args.at, head)
            progress = _progress("history", upto)
            events = await history(store, args.resource, upto=upto, on_progress=progress)
            progress.done()
        return _print_events(args, events, f"no events of {args.resource!r}")

    return run_async(main)


def _who(args: argparse.Namespace) -> int:
    _check_points(args, args.at)
    from cairn.audit import who

    async def main() -> int:
        async with await _open(args) as store:
            head = await store.head()
            upto = head if args.at is None else await _point(args, store, args.at, head)
            progress = _progress("who", upto)
            events = await who(store, args.user, upto=upto, on_progress=progress)
            progress.done()
        return _print_events(args, events, f"no events by user {args.user!r}")

    return run_async(main)


def _diff(args: argparse.Namespace) -> int:
    _check_points(args, args.a, args.b)
    from cairn.audit import diff
    from cairn.audit.render import table, to_json

    async def main() -> int:
        async with await _open(args) as store:
            head = await store.head()
            a = await _point(args, store, args.a, head)
            b = await _point(args, store, args.b, head)
            if a > b:
                args.parser.error(
                    f"A ({args.a}, position {a}) comes after B ({args.b}, position {b})"
                )
            progress = _progress("diff", b)
            changes = await diff(store, a, b, on_progress=progress)
            progress.done()
        rows = [
            {
                "stream": c.stream, "events": c.events,
                "versions": f"{c.from_version}->{c.to_version}",
                "created": c.created, "last_event": c.last_type,
                "types": ", ".join(f"{t} x{n}" for t, n in c.types.items()),
            }
            for c in changes
        ]  # fmt: skip
        if args.format == "json":
            print(to_json({"from": a, "to": b, "streams": changes}))
            return 0
        total = sum(c.events for c in changes)
        print(f"From position {a:,} to {b:,}: {total:,} events in {len(changes):,} streams.")
        if rows:
            print(table(("stream", "events", "versions", "created", "last_event", "types"), rows))
        return 0

    return run_async(main)


def _check(args: argparse.Namespace) -> int:
    from cairn.audit import check
    from cairn.audit.render import table, to_json
    from cairn.projections.catalog import catalog

    async def main() -> int:
        async with await _open(args) as store:
            progress = _progress("check", await store.head())
            results = await check(store, catalog.projections(catalog), on_progress=progress)
            progress.done()
        if args.format == "json":
            print(to_json([{**_struct(r), "failed": r.failed} for r in results]))
        else:
            rows = [
                {"projection": r.projection, "status": r.status, "position": r.position or None}
                for r in results
            ]
            print(table(("projection", "status", "position"), rows))
            for r in results:
                for line in r.differences:
                    print(f"  {r.projection}: {line}")
        return FINDING if any(r.failed for r in results) else 0

    return run_async(main)


# -- helpers --------------------------------------------------------------------


async def _open(args: argparse.Namespace) -> Any:
    from cairn.audit.store import open_existing

    return await open_existing(store_url(args))


async def _point(args: argparse.Namespace, store: Any, text: str, head: int) -> int:
    """The position ``text`` names (already checked by :func:`_check_points`)."""
    from cairn.audit import resolve

    return await resolve(store, text, head=head)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return int(text)


def _check_points(args: argparse.Namespace, *texts: str | None) -> None:
    """Reject a malformed point before the store is opened."""
    from cairn.audit import BadPoint, parse_point

    for text in texts:
        if text is not None:
            try:
                parse_point(text)
            except BadPoint as exc:
                args.parser.error(str(exc))


def _progress(label: str, total: int) -> Any:
    from cairn.audit.progress import Progress

    return Progress(label, total)


def _entries(args: argparse.Namespace, catalog: Any) -> list[Any]:
    from cairn.projections.catalog import UnknownProjection

    if not args.names:
        return list(catalog)
    try:
        return [catalog.get(name) for name in args.names]
    except UnknownProjection as exc:
        parser: argparse.ArgumentParser = args.parser
        parser.error(str(exc.args[0]))


def _print_events(args: argparse.Namespace, events: list[Any], empty: str) -> int:
    from cairn.audit.queries import event_row
    from cairn.audit.render import table, to_json

    rows = [event_row(e) for e in events]
    if args.format == "json":
        print(to_json(rows))
    elif not rows:
        print(empty)
    else:
        columns = ("position", "at", "stream", "version", "type", "rejected", "user", "data")
        print(table(columns, rows))
    return 0


def _struct(value: Any) -> dict[str, Any]:
    import msgspec

    built: dict[str, Any] = msgspec.to_builtins(value)
    return built


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros_iso(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).isoformat()
