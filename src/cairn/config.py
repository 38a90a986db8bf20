"""Settings: one object that says what a Cairn process runs on.

Every setting comes from three places, in this order of precedence: a
command-line flag, an environment variable, a built-in default. The table
:data:`OPTIONS` names each setting's flag and variable once; the CLI builds its
arguments from it, and :meth:`Settings.resolve` applies it, so the two cannot
drift apart. A bad value raises :class:`ConfigError`, whose message names where
the value came from (``--listen`` or ``CAIRN_LISTEN``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cairn.errors import CairnError

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("console", "json")
STORE_SCHEMES = ("sqlite", "postgresql", "postgres")
BUS_SCHEMES = ("amqp", "amqps")
SCHEDULER_STRATEGIES = ("spread", "stack")
NETWORK_AGENT_MODES = ("auto", "on", "off")
VOLUME_FORMATS = ("qcow2", "raw")


class ConfigError(CairnError):
    """A setting has a value Cairn cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Listen:
    """The address the HTTP server binds: a host name or IP, and a port (0: any free)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Settings:
    """What ``cairn up`` runs on. Build it with :meth:`resolve`.

    ``store`` is the event store's URL, ``None`` for the embedded default, the
    SQLite file ``<data_dir>/cairn.sqlite`` (:attr:`store_url` is the URL to
    open either way). ``bus`` is the RabbitMQ URL, ``None`` for the in-process bus.
    """

    data_dir: Path
    listen: Listen = Listen("127.0.0.1", 5000)
    store: str | None = None
    bus: str | None = None
    log_level: str = "info"
    log_format: str = "console"
    shutdown_timeout: float = 10.0
    #: the admin's password (never shown by repr, never logged)
    admin_password: str | None = dataclasses.field(default=None, repr=False)
    bcrypt_cost: int = 12
    token_ttl: float = 3600.0
    policy_file: Path | None = None
    lockout_attempts: int = 0
    lockout_seconds: float = 1800.0
    #: every project's image quota: how many images, how many bytes (-1: no limit)
    image_quota_images: int = 100
    image_quota_bytes: int = 100 * 1024**3
    #: where the default guest is (None: the build script's cache; "none": no default image)
    guest_dir: str | None = None
    #: The compute agents' hypervisor (a libvirt URI); ``None`` picks
    #: :func:`default_hypervisor` (see :attr:`hypervisor_uri`).
    hypervisor: str | None = None
    #: Where the compute hosts' serial console proxy listens (port 0: any free
    #: one), and the URL clients are given for it when that differs (NAT, TLS
    #: in front): Nova's serial proxy ``serialproxy_host``/``base_url``.
    serial_proxy_listen: Listen = Listen("127.0.0.1", 0)
    serial_proxy_url: str | None = None
    #: How many compute hosts (agents) run inside this process; 0 runs none
    #: (the agents then run elsewhere, connected through the bus).
    compute_hosts: int = 1
    #: How the scheduler weighs hosts: ``spread`` (most free resources first, Nova's
    #: default) or ``stack`` (fill one host before the next).
    scheduler_strategy: str = "spread"
    #: Hosts tried for one boot (the first and the reschedules after failed spawns).
    scheduler_max_attempts: int = 3
    #: How long a server may stay in a transitional state (building, deleting,
    #: an action in flight) before the deadline sweeper puts it in ERROR.
    compute_deadline: float = 600.0
    #: Seconds a deleted server stays SOFT_DELETED (restorable) before it is
    #: reclaimed (Nova's ``reclaim_instance_interval``); 0 deletes at once.
    reclaim_instance_interval: float = 0.0
    #: Seconds a SHELVED server keeps its host before it is offloaded (Nova's
    #: ``shelved_offload_time``): 0 offloads at once, -1 never.
    shelved_offload_time: float = 0.0
    #: Seconds a resized server waits in VERIFY_RESIZE before its resize is
    #: confirmed for it (Nova's ``resize_confirm_window``); 0 never confirms.
    resize_confirm_window: float = 0.0
    #: The most items one page of an API listing holds (Nova's ``max_limit``).
    api_max_limit: int = 1000
    stream_buffer: int = 4 * 1024 * 1024
    #: Whether this process runs the machine's network agent (``auto``: when root
    #: and iproute2, dnsmasq and nftables are there).
    network_agent: str = "auto"
    #: The file format of new volumes in the volume agent's pool (``<data_dir>/volumes``).
    volume_format: str = "qcow2"

    @property
    def hypervisor_uri(self) -> str:
        """The libvirt URI the compute agents open: ``hypervisor``, or the default."""
        return self.hypervisor or default_hypervisor()

    @property
    def store_url(self) -> str:
        """The event store to open: ``store``, or the SQLite file in ``data_dir``."""
        return self.store or sqlite_url(self.data_dir / "cairn.sqlite")

    @classmethod
    def resolve(
        cls, flags: Mapping[str, str | None], env: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from command-line ``flags`` (field name -> raw text, ``None``
        when not given) and ``env`` (``os.environ`` by default): flag beats
        environment beats default. Empty environment variables count as unset.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for option in OPTIONS:
            raw, source = flags.get(option.field), option.flag
            if raw is None:
                raw, source = env.get(option.env) or None, option.env
            if raw is None:
                continue
            try:
                values[option.field] = option.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"invalid {source} {raw!r}: {exc}") from None
        if "data_dir" not in values:
            values["data_dir"] = default_data_dir(env)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its field, flag, environment variable, and parser."""

    field: str
    flag: str
    env: str
    parse: Callable[[str], Any]
    metavar: str
    help: str


def default_data_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/cairn``, else ``~/.local/share/cairn`` (XDG base directory spec:
    a relative ``XDG_DATA_HOME`` is invalid and ignored)."""
    xdg = env.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "cairn"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "share" / "cairn"


#: Where a running libvirtd (or virtqemud) listens; if one exists, libvirtd answers.
LIBVIRT_SOCKETS = (
    Path("/run/libvirt/libvirt-sock"),
    Path("/var/run/libvirt/libvirt-sock"),
    Path("/run/libvirt/virtqemud-sock"),
)
QEMU_SYSTEM = "qemu:///system"
TEST_DRIVER = "test:///default"


def default_hypervisor(sockets: tuple[Path, ...] = LIBVIRT_SOCKETS) -> str:
    """``qemu:///system`` where a libvirt daemon's socket exists, else libvirt's
    own ``test:///default`` driver (no daemon needed: fake guests, real API)."""
    return QEMU_SYSTEM if any(path.exists() for path in sockets) else TEST_DRIVER


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def redact_url(url: str | None) -> str:
    """``url`` with its password replaced by ``***``, safe to log; ``None`` is the
    in-process bus."""
    if url is None:
        return "in-process"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


# -- parsers: each returns a value or raises ValueError with the reason -----


def parse_listen(text: str) -> Listen:
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError("expected HOST:PORT, such as 127.0.0.1:5000 or [::1]:5000")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError("write an IPv6 address in brackets, such as [::1]:5000")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"port {port_text!r} is not a number from 0 to 65535")
    return Listen(host, int(port_text))


def parse_ws_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError("expected a ws:// or wss:// URL, such as ws://192.0.2.10:6083/")
    return text


def parse_data_dir(text: str) -> Path:
    return Path(text).expanduser().absolute()


def parse_store_url(text: str) -> str:
    scheme = urlsplit(text).scheme.lower()
    if scheme not in STORE_SCHEMES:
        raise ValueError("expected postgresql://USER@HOST:PORT/DB or sqlite:///PATH")
    if scheme == "sqlite" and not text.lower().startswith("sqlite:///"):
        raise ValueError("a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path")
    return text


def parse_bus_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme.lower() not in BUS_SCHEMES or not parts.hostname:
        raise ValueError("expected amqp://USER:PASSWORD@HOST:PORT/VHOST")
    return text


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError(f"choose one of {', '.join(choices)}")
        return text.lower()

    return parse


def parse_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not 0 <= value <= 3600:
        raise ValueError("expected a number of seconds from 0 to 3600")
    return value


def parse_password(text: str) -> str:
    if not 8 <= len(text.encode()) <= 72:
        raise ValueError("expected 8 to 72 bytes")
    return text


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or not low <= int(text) <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return int(text)

    return parse


def _seconds_range(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("expected a number of seconds") from None
        if not low <= value <= high:
            raise ValueError(f"expected a number of seconds from {low:g} to {high:g}")
        return value

    return parse


def _offload_time(text: str) -> float:
    """Nova's shelved_offload_time: -1 (never), or seconds from 0 (at once)."""
    value = _seconds_range(-1, 30 * 24 * 3600)(text)
    if -1 < value < 0:
        raise ValueError("expected -1 (never), or a number of seconds from 0")
    return value


def parse_limit(text: str) -> int:
    """A quota: a whole number, or -1 for no limit."""
    stripped = text.strip()
    if stripped == "-1":
        return -1
    if not stripped.isdigit():
        raise ValueError("expected a whole number, or -1 for no limit")
    return int(stripped)


def parse_guest_dir(text: str) -> str:
    if text.strip().lower() == "none":
        return "none"
    return str(Path(text).expanduser().absolute())


def default_guest_dir(env: Mapping[str, str]) -> Path:
    """Where ``scripts/build-guest-image`` puts the guest: ``$XDG_CACHE_HOME/cairn/guest``,
    else ``~/.cache/cairn/guest`` (the script also honours ``CAIRN_GUEST_DIR``)."""
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "cairn" / "guest"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".cache" / "cairn" / "guest"


def parse_hypervisor(text: str) -> str:
    scheme = urlsplit(text).scheme.lower()
    if not scheme or "://" not in text:
        raise ValueError("expected a libvirt URI, such as qemu:///system or test:///default")
    return text


def parse_file(text: str) -> Path:
    path = Path(text).expanduser().absolute()
    if not path.is_file():
        raise ValueError("no such file")
    return path


OPTIONS: tuple[Option, ...] = (
    Option(
        field="data_dir",
        flag="--data-dir",
        env="CAIRN_DATA_DIR",
        parse=parse_data_dir,
        metavar="DIR",
        help="where Cairn keeps its data (default: $XDG_DATA_HOME/cairn or ~/.local/share/cairn)",
    ),
    Option(
        field="listen",
        flag="--listen",
        env="CAIRN_LISTEN",
        parse=parse_listen,
        metavar="HOST:PORT",
        help="address of the HTTP API (default: 127.0.0.1:5000)",
    ),
    Option(
        field="store",
        flag="--store",
        env="CAIRN_STORE",
        parse=parse_store_url,
        metavar="URL",
        help="event store: postgresql://USER@HOST:PORT/DB or sqlite:///PATH "
        "(default: cairn.sqlite in the data directory)",
    ),
    Option(
        field="bus",
        flag="--bus",
        env="CAIRN_BUS",
        parse=parse_bus_url,
        metavar="URL",
        help="message bus: amqp://USER:PASSWORD@HOST:PORT/VHOST (default: in-process)",
    ),
    Option(
        field="log_level",
        flag="--log-level",
        env="CAIRN_LOG_LEVEL",
        parse=_choice(LOG_LEVELS),
        metavar="LEVEL",
        help=f"least severe level logged: {', '.join(LOG_LEVELS)} (default: info)",
    ),
    Option(
        field="log_format",
        flag="--log-format",
        env="CAIRN_LOG_FORMAT",
        parse=_choice(LOG_FORMATS),
        metavar="FORMAT",
        help="console (for people) or json (one object a line) (default: console)",
    ),
    Option(
        field="shutdown_timeout",
        flag="--shutdown-timeout",
        env="CAIRN_SHUTDOWN_TIMEOUT",
        parse=parse_seconds,
        metavar="SECONDS",
        help="on SIGTERM, how long in-flight requests may take to finish (default: 10)",
    ),
    Option(
        field="admin_password",
        flag="--admin-password",
        env="CAIRN_ADMIN_PASSWORD",
        parse=parse_password,
        metavar="PASSWORD",
        help="the admin user's password, set on the first start or reset on a later one "
        "(default: generated once and printed; also written to clouds.yaml)",
    ),
    Option(
        field="bcrypt_cost",
        flag="--bcrypt-cost",
        env="CAIRN_BCRYPT_COST",
        parse=_int_range(4, 16),
        metavar="N",
        help="work factor of the password hash, bcrypt's log2 rounds (default: 12; DevStack: 4)",
    ),
    Option(
        field="token_ttl",
        flag="--token-ttl",
        env="CAIRN_TOKEN_TTL",
        parse=_seconds_range(60, 7 * 24 * 3600),
        metavar="SECONDS",
        help="how long a token is valid (default: 3600)",
    ),
    Option(
        field="policy_file",
        flag="--policy-file",
        env="CAIRN_POLICY_FILE",
        parse=parse_file,
        metavar="FILE",
        help="YAML file of policy rules overriding the defaults (default: none)",
    ),
    Option(
        field="lockout_attempts",
        flag="--lockout-attempts",
        env="CAIRN_LOCKOUT_ATTEMPTS",
        parse=_int_range(0, 1000),
        metavar="N",
        help="failed logins after which a user is locked out (default: 0, never)",
    ),
    Option(
        field="lockout_seconds",
        flag="--lockout-seconds",
        env="CAIRN_LOCKOUT_SECONDS",
        parse=_seconds_range(1, 30 * 24 * 3600),
        metavar="SECONDS",
        help="how long a locked-out user stays locked (default: 1800)",
    ),
    Option(
        field="image_quota_images",
        flag="--image-quota-images",
        env="CAIRN_IMAGE_QUOTA_IMAGES",
        parse=parse_limit,
        metavar="N",
        help="images a project may own (default: 100; -1: no limit)",
    ),
    Option(
        field="image_quota_bytes",
        flag="--image-quota-bytes",
        env="CAIRN_IMAGE_QUOTA_BYTES",
        parse=parse_limit,
        metavar="BYTES",
        help="bytes of image data a project may store (default: 100 GiB; -1: no limit)",
    ),
    Option(
        field="guest_dir",
        flag="--guest-dir",
        env="CAIRN_GUEST_DIR",
        parse=parse_guest_dir,
        metavar="DIR",
        help="the guest built by scripts/build-guest-image, uploaded as the default image on "
        "the first start (default: ~/.cache/cairn/guest; 'none': no default image)",
    ),
    Option(
        field="hypervisor",
        flag="--hypervisor",
        env="CAIRN_HYPERVISOR",
        parse=parse_hypervisor,
        metavar="URI",
        help="libvirt URI of the compute hosts' hypervisor: qemu:///system or test:///default "
        "(default: qemu:///system where libvirtd answers, else test:///default)",
    ),
    Option(
        field="serial_proxy_listen",
        flag="--serial-proxy-listen",
        env="CAIRN_SERIAL_PROXY_LISTEN",
        parse=parse_listen,
        metavar="HOST:PORT",
        help="address of the serial console proxy of this process's compute hosts "
        "(default: 127.0.0.1:0, a free port)",
    ),
    Option(
        field="serial_proxy_url",
        flag="--serial-proxy-url",
        env="CAIRN_SERIAL_PROXY_URL",
        parse=parse_ws_url,
        metavar="URL",
        help="the ws:// or wss:// URL clients reach the serial console proxy at "
        "(default: the address it listens at)",
    ),
    Option(
        field="compute_hosts",
        flag="--compute-hosts",
        env="CAIRN_COMPUTE_HOSTS",
        parse=_int_range(0, 64),
        metavar="N",
        help="compute hosts (agents) run in this process; 0 runs none (default: 1)",
    ),
    Option(
        field="scheduler_strategy",
        flag="--scheduler-strategy",
        env="CAIRN_SCHEDULER_STRATEGY",
        parse=_choice(SCHEDULER_STRATEGIES),
        metavar="STRATEGY",
        help="spread servers over hosts or stack them on the fullest that fits (default: spread)",
    ),
    Option(
        field="scheduler_max_attempts",
        flag="--scheduler-max-attempts",
        env="CAIRN_SCHEDULER_MAX_ATTEMPTS",
        parse=_int_range(1, 20),
        metavar="N",
        help="hosts tried for one boot, reschedules after failed spawns included (default: 3)",
    ),
    Option(
        field="compute_deadline",
        flag="--compute-deadline",
        env="CAIRN_COMPUTE_DEADLINE",
        parse=_seconds_range(1, 24 * 3600),
        metavar="SECONDS",
        help="how long a server may stay building, deleting or in an action before it "
        "goes to ERROR (default: 600)",
    ),
    Option(
        field="reclaim_instance_interval",
        flag="--reclaim-instance-interval",
        env="CAIRN_RECLAIM_INSTANCE_INTERVAL",
        parse=_seconds_range(0, 30 * 24 * 3600),
        metavar="SECONDS",
        help="keep deleted servers SOFT_DELETED (restorable with 'server restore') this long "
        "before they are reclaimed (Nova's reclaim_instance_interval; default: 0, delete at once)",
    ),
    Option(
        field="shelved_offload_time",
        flag="--shelved-offload-time",
        env="CAIRN_SHELVED_OFFLOAD_TIME",
        parse=_offload_time,
        metavar="SECONDS",
        help="how long a shelved server keeps its host before it is offloaded (Nova's "
        "shelved_offload_time; default: 0, at once; -1: never)",
    ),
    Option(
        field="resize_confirm_window",
        flag="--resize-confirm-window",
        env="CAIRN_RESIZE_CONFIRM_WINDOW",
        parse=_seconds_range(0, 30 * 24 * 3600),
        metavar="SECONDS",
        help="confirm a resize left in VERIFY_RESIZE this long (Nova's resize_confirm_window; "
        "default: 0, never)",
    ),
    Option(
        field="api_max_limit",
        flag="--api-max-limit",
        env="CAIRN_API_MAX_LIMIT",
        parse=_int_range(1, 100_000),
        metavar="N",
        help="the most items one page of a compute listing holds; longer listings get a "
        "next link (default: 1000)",
    ),
    Option(
        field="stream_buffer",
        flag="--stream-buffer",
        env="CAIRN_STREAM_BUFFER",
        parse=_int_range(64 * 1024, 1024 * 1024 * 1024),
        metavar="BYTES",
        help="unsent bytes an event-stream subscriber may hold before it is cut off as "
        "slow (it resumes from the position it is told) (default: 4194304)",
    ),
    Option(
        field="network_agent",
        flag="--network-agent",
        env="CAIRN_NETWORK_AGENT",
        parse=_choice(NETWORK_AGENT_MODES),
        metavar="MODE",
        help="run this machine's network agent (bridges, DHCP, routers, security groups, "
        "metadata): on, off, or auto: when root and ip, dnsmasq and nft are installed "
        "(default: auto)",
    ),
    Option(
        field="volume_format",
        flag="--volume-format",
        env="CAIRN_VOLUME_FORMAT",
        parse=_choice(VOLUME_FORMATS),
        metavar="FORMAT",
        help="file format of new volumes in <data-dir>/volumes: qcow2 or raw (default: qcow2)",
    ),
)
