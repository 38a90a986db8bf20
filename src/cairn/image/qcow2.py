"""The few bytes of qcow2 Cairn needs: a header's virtual size, and an empty image.

A qcow2 file starts with ``QFI\\xfb``, a big-endian version, and at offset 24
the virtual disk size as a big-endian u64 (QEMU's ``docs/interop/qcow2.txt``).
:func:`empty_qcow2` writes the smallest valid version-3 image of a given size:
a header cluster, a refcount table, one refcount block and an L1 table, no
data clusters. ``qemu-img check`` finds it clean (tests/image/test_qcow2.py).
"""

from __future__ import annotations

import struct

MAGIC = b"QFI\xfb"
HEADER_BYTES = 32
CLUSTER_BITS = 16
CLUSTER = 1 << CLUSTER_BITS
V3_HEADER_LENGTH = 104


def virtual_size(head: bytes) -> int | None:
    """The virtual size in a qcow2 header's first 32 bytes; ``None`` if not qcow2."""
    if len(head) < HEADER_BYTES or head[:4] != MAGIC:
        return None
    version, size = struct.unpack_from(">I", head, 4)[0], struct.unpack_from(">Q", head, 24)[0]
    return int(size) if version in (2, 3) else None


def empty_qcow2(size: int) -> bytes:
    """A valid, empty qcow2 (version 3, 64 KiB clusters) of virtual ``size`` bytes."""
    l2_entries = CLUSTER // 8
    l1_size = max(1, -(-size // (CLUSTER * l2_entries)))
    l1_clusters = -(-l1_size * 8 // CLUSTER)
    refcount_table, refcount_block, l1_table = CLUSTER, 2 * CLUSTER, 3 * CLUSTER
    clusters = 3 + l1_clusters
    header = struct.pack(
        ">4sIQIIQIIQQIIQQQQII",
        MAGIC, 3, 0, 0, CLUSTER_BITS, size, 0, l1_size, l1_table, refcount_table, 1, 0, 0,
        0, 0, 0, 4, V3_HEADER_LENGTH,
    )  # fmt: skip
    image = bytearray(clusters * CLUSTER)
    image[: len(header)] = header
    # header extensions: only the end marker (type 0, length 0), already zero
    struct.pack_into(">Q", image, refcount_table, refcount_block)
    for index in range(clusters):  # 16-bit refcounts (refcount_order 4), each cluster used once
        struct.pack_into(">H", image, refcount_block + 2 * index, 1)
    return bytes(image)
