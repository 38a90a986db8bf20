"""What the identity service runs with; the composition root builds it from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cairn.identity.passwords import DEFAULT_COST
from cairn.identity.tokens import DEFAULT_TTL


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    """``public_url`` is the cloud's base URL (``http://host:port``), from which
    the catalog and ``clouds.yaml`` are made. ``admin_password`` ``None`` means:
    keep the admin's password, or generate one on the first start."""

    data_dir: Path
    public_url: str
    admin_password: str | None = None
    bcrypt_cost: int = DEFAULT_COST
    token_ttl: float = DEFAULT_TTL
    policy_file: Path | None = None
    #: failed logins before an account is locked (0: never), and for how long
    lockout_attempts: int = 0
    lockout_seconds: float = 1800.0
    region: str = "RegionOne"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def credential_keys_dir(self) -> Path:
        return self.data_dir / "credential-keys"

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"
