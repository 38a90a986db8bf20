"""What the network datapath raises (all derive from :class:`cairn.errors.CairnError`)::

    DatapathError            the datapath could not be brought to the plan
    ├── InvalidPlan          the plan itself is impossible (names clash, a port on no network)
    ├── NamespaceError       a network namespace could not be made, entered or removed
    ├── NetlinkError         the kernel refused a netlink request (names device and namespace)
    └── CommandFailed        nft, dnsmasq or ip exited non-zero (names it, the namespace, stderr)

Vendor errors (pyroute2's ``NetlinkError``, ``OSError``) are translated where
they are raised, ``from`` the original. A failed :meth:`Datapath.apply` leaves
the host part-way: the next apply of the same plan picks up from there.
"""

from __future__ import annotations

from cairn.errors import CairnError


class DatapathError(CairnError):
    """The datapath could not be brought to the plan; the message says where."""


class InvalidPlan(DatapathError):
    """The plan cannot be applied as given (nothing was changed)."""


class NamespaceError(DatapathError):
    """A network namespace could not be created, entered or removed."""

    def __init__(self, namespace: str, detail: str) -> None:
        super().__init__(f"namespace {namespace!r}: {detail}")
        self.namespace = namespace


class NetlinkError(DatapathError):
    """The kernel refused a netlink request about a device."""

    def __init__(self, namespace: str | None, what: str, detail: str) -> None:
        where = f"namespace {namespace!r}" if namespace else "the root namespace"
        super().__init__(f"{what} in {where}: {detail}")
        self.namespace = namespace


class CommandFailed(DatapathError):
    """An external program exited non-zero, or could not be started."""

    def __init__(self, argv: list[str], namespace: str | None, detail: str) -> None:
        where = f" in namespace {namespace!r}" if namespace else ""
        super().__init__(f"{argv[0]}{where} failed: {detail.strip()}")
        self.argv = argv
        self.namespace = namespace
