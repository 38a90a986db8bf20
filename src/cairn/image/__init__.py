"""The image service's core (Glance v2): deciders, the files that hold image data,
quotas, and the default guest image uploaded on the first start.

* :mod:`.errors` — the domain errors (the API turns them into faults).
* :mod:`.rules` — what an image may look like: formats, visibility, properties.
* :mod:`.decide` — deciders: state in, events out.
* :mod:`.files` — image data on disk: streamed in, checksummed, fsynced, renamed.
* :mod:`.qcow2` — a qcow2 header: its virtual size, and an empty image.
* :mod:`.service` — :class:`~.service.Images`, what the API holds.
* :mod:`.default_image` — the bootable guest, uploaded once.
"""
