"""nftables tables as text, replaced atomically, recognized by a fingerprint.

Cairn writes whole tables, never single rules: a table's text is rendered from
the plan (:mod:`~cairn.agents.network.security_groups`,
:mod:`~cairn.agents.network.nat`) and loaded with ``nft -f -`` as::

    table bridge cairn-sg          # make sure it exists, so that ...
    delete table bridge cairn-sg   # ... this cannot fail, then
    table bridge cairn-sg { comment "cairn:<fingerprint>" ... }

which nft runs as one transaction: a packet sees the old table or the new
one, never a half-loaded mix, and a syntax error changes nothing.

The comment carries a fingerprint of the text (a hash). Reading the tables
back over netlink (:func:`tables`, in-process, about a millisecond) and
comparing fingerprints tells whether a table is what the plan wants, without
parsing nft's output and across restarts of the agent: a re-apply of the same
plan loads nothing. Any ``cairn-*`` table whose fingerprint is not wanted is
deleted.

nft 1.0.6 wants a closing ``}`` on a line of its own (INFRA-NOTES): the
renderers emit one statement per line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pyroute2.nftables.main import NFTables

from cairn.agents.network import namespaces
from cairn.agents.network.desired import NFT_TABLE_PREFIX
from cairn.agents.network.links import doing

#: nfgen families as netlink numbers them, to nft's names.
FAMILIES = {1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}
_COMMENT = "cairn:"


@dataclass(frozen=True)
class Table:
    """One table's definition: ``body`` is what goes between its braces."""

    family: str  #: ``ip``, ``inet``, ``bridge``...
    name: str  #: starts with ``cairn-``
    body: str

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(f"{self.family} {self.name}\n{self.body}".encode())
        return _COMMENT + digest.hexdigest()[:24]

    @property
    def key(self) -> tuple[str, str]:
        return (self.family, self.name)


def script(load: list[Table], drop: list[tuple[str, str]]) -> str:
    """The ``nft -f`` text that replaces ``load`` and removes ``drop`` in one go."""
    lines = []
    for family, name in drop:
        lines += [f"table {family} {name}", f"delete table {family} {name}"]
    for table in load:
        lines += [
            f"table {table.family} {table.name}",
            f"delete table {table.family} {table.name}",
            f"table {table.family} {table.name} {{",
            f'comment "{table.fingerprint}"',
            table.body.rstrip("\n"),
            "}",
        ]
    return "\n".join(lines) + "\n"


def tables(handle: NFTables, namespace: str | None) -> dict[tuple[str, str], str]:
    """(netlink thread) Cairn's tables in the handle's namespace: (family, name)
    -> fingerprint ("" when a table carries none)."""
    with doing(namespace, "listing nftables tables"):
        messages = handle.get_tables()
    found = {}
    for msg in messages:
        name = msg.get_attr("NFTA_TABLE_NAME")
        if not name or not name.startswith(NFT_TABLE_PREFIX):
            continue
        family = FAMILIES.get(msg["nfgen_family"], str(msg["nfgen_family"]))
        found[(family, name)] = msg.get_attr("NFTA_TABLE_USERDATA") or ""
    return found


def stale(
    wanted: list[Table], present: dict[tuple[str, str], str]
) -> tuple[list[Table], list[tuple[str, str]]]:
    """What to load (missing or different) and what to drop (not wanted)."""
    load = [t for t in wanted if present.get(t.key) != t.fingerprint]
    keys = {t.key for t in wanted}
    drop = sorted(key for key in present if key not in keys)
    return load, drop


async def load(text: str, namespace: str | None) -> None:
    """Run an ``nft -f -`` script in a namespace (atomically: all or nothing)."""
    await namespaces.run(["nft", "-f", "-"], namespace, stdin=text.encode())


def quoted(names: list[str]) -> str:
    """Interface names as an nft set of strings."""
    return "{ " + ", ".join(f'"{n}"' for n in names) + " }"


def anonymous_set(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"
