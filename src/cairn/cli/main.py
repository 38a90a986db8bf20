"""``cairn``: the command line.

Each command is a module with ``register(subparsers)``, which sets the defaults
``run`` (called with the parsed arguments, returns the exit status) and
``parser`` (the command's own parser).

Mistakes a user can make (a bad flag, an unreachable database, a port in use)
end in one readable line on stderr and a non-zero exit status, never a
traceback: 2 for a usage or configuration error, 1 when something Cairn needs
is not there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

import cairn
from cairn.cli import agent, audit, events, network, up
from cairn.config import ConfigError
from cairn.errors import CairnError

PROG = "cairn"
USAGE_ERROR = 2
FAILURE = 1


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line that points at ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Cairn: an event-sourced, OpenStack-compatible cloud in one process.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {cairn.__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )
    up.register(commands)
    agent.register(commands)
    audit.register(commands)
    events.register(commands)
    network.register(commands)
    version = commands.add_parser(
        "version", help="print Cairn's version", description="Print Cairn's version."
    )
    version.set_defaults(run=_version, parser=version)
    return parser


def _version(args: argparse.Namespace) -> int:
    print(f"{PROG} {cairn.__version__}")
    return 0


def fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # reported by the command's parser, so the hint names its --help
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        status: int = args.run(args)
    except ConfigError as exc:
        return fail(str(exc), USAGE_ERROR)
    except CairnError as exc:
        return fail(str(exc), FAILURE)
    except KeyboardInterrupt:  # Ctrl-C before the runtime took over the signal
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
