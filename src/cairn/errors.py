"""The root of Cairn's exception hierarchy.

CairnError
├── StoreError                 (cairn.store.port)
│   ├── WrongExpectedVersion   a stream was not at the version an append expected
│   ├── StoreClosed            you closed the store; nothing more is accepted
│   └── StoreUnavailable       the store broke: the database went away or failed
└── BusError                   (cairn.bus.port)
"""


class CairnError(Exception):
    """Every error Cairn raises on purpose derives from this."""
