"""Which projections exist, by name, and how each shows its state as rows.

The audit tool (``cairn audit replay``, ``cairn audit check``) works on every
projection registered here; a service registers its projections when its
module is imported::

    catalog.register("servers", Servers, rows=server_rows, columns=("id", "name", ...))

``rows(state, project)`` turns a state into a list of flat dicts for the table
(and ``--format json``), keeping only what belongs to ``project`` when it is
given. Registering is cheap and has no side effects beyond this registry.

One projection may be registered under several names, each a view of its
state (identity's ``users``, ``projects``, ``roles``...): the audit folds it
once (:meth:`Catalog.projections`) and each view shows its own rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cairn.projections.fold import Projection

Row = dict[str, Any]
RowsFn = Callable[[Any, "str | None"], list[Row]]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One registered projection: ``name`` is what users type (``servers``)."""

    name: str
    projection: type[Projection[Any]]
    rows: RowsFn
    columns: tuple[str, ...]
    description: str = ""

    def new(self) -> Projection[Any]:
        return self.projection()


class UnknownProjection(LookupError):
    """A name was asked for that no registered projection has."""


class Catalog:
    """Name -> projection, in registration order."""

    def __init__(self) -> None:
        self._entries: dict[str, CatalogEntry] = {}

    def register(
        self,
        name: str,
        projection: type[Projection[Any]],
        *,
        rows: RowsFn,
        columns: tuple[str, ...],
        description: str = "",
    ) -> CatalogEntry:
        existing = self._entries.get(name)
        if existing is not None and existing.projection is not projection:
            raise ValueError(f"a projection is already registered as {name!r}")
        entry = CatalogEntry(name, projection, rows, columns, description)
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> CatalogEntry:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "none"
            raise UnknownProjection(
                f"no projection is registered as {name!r} (known: {known})"
            ) from None

    def names(self) -> list[str]:
        return list(self._entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(list(self._entries.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    @staticmethod
    def projections(entries: Iterable[CatalogEntry]) -> list[Projection[Any]]:
        """One instance of each projection behind ``entries`` (views share one)."""
        made: dict[str, Projection[Any]] = {}
        for entry in entries:
            if entry.projection.name not in made:
                made[entry.projection.name] = entry.new()
        return list(made.values())


#: The catalog every Cairn projection registers itself in.
catalog = Catalog()


def _register_builtin() -> None:
    # Imported here, not at the top: these modules register themselves in ``catalog``.
    from cairn.projections import compute_catalog, identity_catalog, image, network, streams  # noqa: F401


_register_builtin()
