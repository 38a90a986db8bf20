"""Settings: flag beats environment beats default, and bad values say where they came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.config import OPTIONS, ConfigError, Listen, Settings, default_data_dir, redact_url

HOME = {"HOME": "/home/ada"}
NO_FLAGS: dict[str, str | None] = {}


def test_defaults() -> None:
    settings = Settings.resolve(NO_FLAGS, HOME)
    assert settings == Settings(
        data_dir=Path("/home/ada/.local/share/cairn"),
        listen=Listen("127.0.0.1", 5000),
        store=None,
        bus=None,
        log_level="info",
        log_format="console",
        shutdown_timeout=10.0,
    )
    assert settings.store_url == "sqlite:////home/ada/.local/share/cairn/cairn.sqlite"


def test_the_data_dir_follows_xdg() -> None:
    assert default_data_dir({"XDG_DATA_HOME": "/xdg", **HOME}) == Path("/xdg/cairn")
    # A relative XDG_DATA_HOME is invalid by the spec, and ignored.
    assert default_data_dir({"XDG_DATA_HOME": "rel", **HOME}) == Path(
        "/home/ada/.local/share/cairn"
    )
    settings = Settings.resolve(NO_FLAGS, {"XDG_DATA_HOME": "/xdg", **HOME})
    assert settings.store_url == "sqlite:////xdg/cairn/cairn.sqlite"


DEFAULT_DIR = Path("/home/ada/.local/share/cairn")

# field, flag value, environment value; default, and what each value parses to
CASES = [
    ("data_dir", "/flag", "/env", DEFAULT_DIR, Path("/flag"), Path("/env")),
    ("listen", "0.0.0.0:8000", "[::1]:9000",
     Listen("127.0.0.1", 5000), Listen("0.0.0.0", 8000), Listen("::1", 9000)),
    ("store", "postgresql://f@h/db", "postgresql://e@h/db",
     None, "postgresql://f@h/db", "postgresql://e@h/db"),
    ("bus", "amqp://f:p@h/", "amqps://e:p@h/", None, "amqp://f:p@h/", "amqps://e:p@h/"),
    ("log_level", "DEBUG", "warning", "info", "debug", "warning"),
    ("log_format", "json", "console", "console", "json", "console"),
    ("shutdown_timeout", "2.5", "30", 10.0, 2.5, 30.0),
]  # fmt: skip


@pytest.mark.parametrize(("field", "flag", "env", "default", "from_flag", "from_env"), CASES)
def test_flag_beats_env_beats_default(
    field: str, flag: str, env: str, default: object, from_flag: object, from_env: object
) -> None:
    option = next(o for o in OPTIONS if o.field == field)
    environ = {option.env: env, **HOME}
    assert getattr(Settings.resolve(NO_FLAGS, HOME), field) == default
    assert getattr(Settings.resolve(NO_FLAGS, environ), field) == from_env
    assert getattr(Settings.resolve({field: flag}, environ), field) == from_flag
    assert getattr(Settings.resolve({field: flag}, HOME), field) == from_flag
    # An empty variable counts as unset.
    assert getattr(Settings.resolve(NO_FLAGS, {option.env: "", **HOME}), field) == default


def test_every_option_has_a_flag_and_a_variable() -> None:
    assert {o.flag for o in OPTIONS} >= {
        "--data-dir", "--listen", "--store", "--bus", "--log-level", "--log-format",
    }  # fmt: skip
    for option in OPTIONS:
        assert option.env == "CAIRN_" + option.flag[2:].upper().replace("-", "_")


def test_a_relative_data_dir_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.resolve({"data_dir": "here"}, HOME)
    assert settings.data_dir == tmp_path / "here"
    assert settings.store_url == f"sqlite:///{tmp_path}/here/cairn.sqlite"


def test_a_store_given_is_the_store_opened() -> None:
    settings = Settings.resolve({"store": "sqlite:///rel/x.sqlite"}, HOME)
    assert settings.store_url == "sqlite:///rel/x.sqlite"
    # The default follows the data directory, also in a changed copy.
    settings = Settings.resolve(NO_FLAGS, HOME).replace(data_dir=Path("/srv/cairn"))
    assert settings.store_url == "sqlite:////srv/cairn/cairn.sqlite"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("listen", "5000", "expected HOST:PORT"),
        ("listen", ":5000", "expected HOST:PORT"),
        ("listen", "localhost:http", "port 'http'"),
        ("listen", "localhost:70000", "port '70000'"),
        ("listen", "::1:5000", "IPv6 address in brackets"),
        ("listen", "[nope]:5000", "not an IPv6 address"),
        ("store", "mysql://h/db", "expected postgresql://"),
        ("store", "sqlite://x", "sqlite:///"),
        ("bus", "redis://h", "expected amqp://"),
        ("bus", "amqp://", "expected amqp://"),
        ("log_level", "loud", "choose one of debug, info"),
        ("log_format", "xml", "choose one of console, json"),
        ("shutdown_timeout", "soon", "number of seconds"),
        ("shutdown_timeout", "-1", "from 0 to 3600"),
    ],
)
def test_bad_values_name_their_source(field: str, value: str, words: str) -> None:
    option = next(o for o in OPTIONS if o.field == field)
    with pytest.raises(ConfigError) as from_flag:
        Settings.resolve({field: value}, HOME)
    assert str(from_flag.value).startswith(f"invalid {option.flag} {value!r}: ")
    assert words in str(from_flag.value)
    with pytest.raises(ConfigError) as from_env:
        Settings.resolve(NO_FLAGS, {option.env: value, **HOME})
    assert str(from_env.value).startswith(f"invalid {option.env} {value!r}: ")


def test_listen_prints_as_it_is_written() -> None:
    assert str(Listen("127.0.0.1", 5000)) == "127.0.0.1:5000"
    assert str(Listen("::1", 5000)) == "[::1]:5000"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://cairn:s3cret@db:5432/cairn", "postgresql://cairn:***@db:5432/cairn"),
        ("amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"),
        ("amqp://u:p%40ss@h/vhost?heartbeat=5", "amqp://u:***@h/vhost?heartbeat=5"),
        ("postgresql://postgres@127.0.0.1/db", "postgresql://postgres@127.0.0.1/db"),
        ("sqlite:////var/lib/cairn/cairn.sqlite", "sqlite:////var/lib/cairn/cairn.sqlite"),
        (None, "in-process"),
    ],
)
def test_urls_are_logged_without_passwords(url: str | None, shown: str) -> None:
    assert redact_url(url) == shown
