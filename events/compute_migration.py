"""Compute events of resizes and cold migrations (Nova's ``resize``, ``migrate``,
``confirmResize``, ``revertResize``).

A resize (or a migrate, which is a resize to the same flavor on another host)
is one migration record, named by ``migration_id`` (a uuid; Nova's integer id
is the global position of the request). How it flows:

1. API: :class:`ServerResizeRequested` (server stream) +
   :class:`HostClaimResized` (the host's stream, at the version the check saw:
   the host now holds the new flavor's claim *and* keeps the old one) +
   :class:`ComputeQuotaResized` (the project's stream: cores and RAM counted
   for the larger of the two flavors). RESIZE, task state ``resize_prep``.
   When no host can take it, :class:`ServerResizeFailed` follows in the same
   append (Nova's NoValidHost: the server stays as it was, with the fault).
2. Agent of ``host``: :class:`ServerResizeProgressed` (``resize_migrating``,
   ``resize_migrated``, ``resize_finish``), then :class:`ServerResized`
   (VERIFY_RESIZE: vm_state ``resized``) or :class:`ServerResizeFailed` (back
   to the old guest, with :class:`HostClaimResizeSettled` keeping the old
   claim and the quota put back).
3. API (or the auto-confirmer): :class:`ServerResizeConfirmRequested`; the
   agent drops the old disk and appends :class:`ServerResizeConfirmed` +
   :class:`HostClaimResizeSettled` (``kept="new"``) + the quota of the new flavor.
   Or :class:`ServerResizeRevertRequested` (REVERT_RESIZE); the agent puts the
   old guest back: :class:`ServerResizeReverted` + the settle keeping ``old``
   + the quota of the old flavor.
"""

from __future__ import annotations

from cairn.events.compute import FlavorSnapshot, ResourceAmounts
from cairn.events.registry import DomainEvent, registry

# -- the host's claims and the project's quota -------------------------------------------


@registry.event
class HostClaimResized(DomainEvent, frozen=True):
    """``server_id``'s claim on ``host`` becomes ``amounts``; the claim it held
    before is kept beside it until the resize is settled (as Nova's source and
    destination allocations). Appended with the host stream's version the
    decision saw, so the host is never overbooked."""

    host: str
    server_id: str
    amounts: ResourceAmounts
    migration_id: str = ""


@registry.event
class HostClaimResizeSettled(DomainEvent, frozen=True):
    """The resize of ``server_id`` on ``host`` is over: ``kept`` is ``"new"`` (the
    old claim is dropped: confirmed) or ``"old"`` (the old claim is the server's
    again and the new one dropped: reverted or failed). Idempotent."""

    host: str
    server_id: str
    kept: str
    migration_id: str = ""


@registry.event
class ComputeQuotaResized(DomainEvent, frozen=True):
    """What ``server_id`` counts in its project's quota from now on (idempotent:
    the amounts replace the server's previous ones)."""

    project_id: str
    server_id: str
    cores: int
    ram_mb: int


# -- the server ---------------------------------------------------------------------------


@registry.event
class ServerResizeRequested(DomainEvent, frozen=True):
    """Resize (``migration_type`` ``resize``) or cold-migrate (``migration``) the
    server from ``old_flavor`` on ``host`` to ``new_flavor`` on ``dest_host``."""

    server_id: str
    host: str
    dest_host: str
    migration_id: str
    migration_type: str
    old_flavor: FlavorSnapshot
    new_flavor: FlavorSnapshot
    #: the vm_state the server was in (``active`` or ``stopped``): what it returns to
    vm_state: str = "active"


@registry.event
class ServerResizeProgressed(DomainEvent, frozen=True):
    """The agent reached ``task_state`` (``resize_migrating``, ``resize_migrated``,
    ``resize_finish``); the first is appended before any side effect."""

    server_id: str
    host: str
    migration_id: str
    task_state: str


@registry.event
class ServerResized(DomainEvent, frozen=True):
    """The guest runs (or, if it was stopped, is defined) with the new flavor:
    VERIFY_RESIZE. The old disk is kept until confirmed."""

    server_id: str
    host: str
    migration_id: str
    power_state: int


@registry.event
class ServerResizeFailed(DomainEvent, frozen=True):
    """The resize did not happen: the server is back as it was (``vm_state``,
    ``power_state``) with the old flavor, and this fault."""

    server_id: str
    host: str
    migration_id: str
    reason: str
    vm_state: str = "active"
    power_state: int = 1


@registry.event
class ServerResizeConfirmRequested(DomainEvent, frozen=True):
    """Confirm the resize (``automatic``: the resize_confirm_window passed)."""

    server_id: str
    host: str
    migration_id: str
    automatic: bool = False


@registry.event
class ServerResizeConfirmed(DomainEvent, frozen=True):
    server_id: str
    host: str
    migration_id: str
    vm_state: str
    power_state: int


@registry.event
class ServerResizeRevertRequested(DomainEvent, frozen=True):
    server_id: str
    host: str
    migration_id: str


@registry.event
class ServerResizeReverted(DomainEvent, frozen=True):
    """The old guest (old flavor, old disk) is back on ``host``."""

    server_id: str
    host: str
    migration_id: str
    vm_state: str
    power_state: int
