"""``cairn up``: start the whole cloud in this process, until SIGTERM or Ctrl-C.

Without options it runs all-in-one on embedded defaults: a SQLite event store
in the data directory, the in-process bus, the outbox relay, and the HTTP API
on 127.0.0.1:5000. Every option can also be set in the environment
(``--listen`` is ``CAIRN_LISTEN``); a flag beats the environment, which beats
the default.
"""

from __future__ import annotations

import argparse
from typing import Any

from cairn.cli.text import for_people
from cairn.config import OPTIONS, Settings


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "up",
        help="start the whole cloud in this process",
        description=for_people(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option in OPTIONS:
        parser.add_argument(
            option.flag,
            dest=option.field,
            metavar=option.metavar,
            default=None,
            help=f"{option.help}; env {option.env}",
        )
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    settings = Settings.resolve({option.field: getattr(args, option.field) for option in OPTIONS})

    from cairn import logs, runtime  # here, so that other commands start fast

    logs.configure(settings.log_level, settings.log_format)
    return runtime.run(settings, on_ready=_announce)


def _announce(url: str) -> None:
    print(f"Cairn is up at {url}", flush=True)
