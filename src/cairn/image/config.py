"""What the image service is configured with (the composition root builds it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cairn.image.decide import Limits


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """``data_dir/images`` holds the data; ``limits`` is every project's quota;
    ``guest_dir`` holds the default guest (``vmlinuz``, ``initramfs.cpio.gz``),
    uploaded on the first start when it is there (``None``: never)."""

    data_dir: Path
    limits: Limits = field(default_factory=Limits)
    guest_dir: Path | None = None

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"
