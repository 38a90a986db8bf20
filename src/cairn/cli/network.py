"""``cairn network``: this machine's network datapath, outside a running cloud.

``cairn network teardown`` removes everything the network agent of the cloud in
``--data-dir`` made on this machine: bridges, VXLAN devices, DHCP and router
namespaces, its dnsmasq processes and nftables tables, and the ``cairn-public``
namespace. A stopped cloud leaves its datapath in place on purpose (its guests
keep their network, and the next start adopts it); this is for a cloud that is
done. Stop the cloud first: a running agent would make it all again.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from cairn.cli.text import for_people
from cairn.config import default_data_dir, parse_data_dir


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "network",
        help="this machine's network datapath (teardown)",
        description=for_people(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    teardown = actions.add_parser(
        "teardown",
        help="remove the datapath the cloud's network agent made on this machine",
        description="Remove the bridges, namespaces, dnsmasq processes and nftables "
        "tables of the network agent of the cloud in --data-dir.",
    )
    teardown.add_argument(
        "--data-dir",
        type=parse_data_dir,
        default=None,
        metavar="DIR",
        help="the cloud's data directory (default: cairn up's)",
    )
    teardown.set_defaults(run=_teardown, parser=teardown)
    parser.set_defaults(parser=parser)


def _teardown(args: argparse.Namespace) -> int:
    import os

    from cairn.agents.network.datapath import Datapath

    data = args.data_dir or default_data_dir(os.environ)

    async def main() -> list[str]:
        async with Datapath(data / "network") as datapath:
            await datapath.teardown()
            return datapath.changes

    changes = asyncio.run(main())
    print(f"removed this machine's network datapath ({len(changes)} changes)")
    return 0
