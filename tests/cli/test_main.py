"""The ``cairn`` command line, in-process: help, version, and one-line errors."""

from __future__ import annotations

import pytest

import cairn
from cairn.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exit:
        status = int(exit.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("argv", [["--help"], ["up", "--help"], ["version", "--help"]])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 0
    assert out.startswith("usage: cairn")
    assert err == ""


def test_up_help_names_every_option_and_its_variable(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "up", "--help")
    for flag, env in [
        ("--data-dir", "CAIRN_DATA_DIR"),
        ("--listen", "CAIRN_LISTEN"),
        ("--store", "CAIRN_STORE"),
        ("--bus", "CAIRN_BUS"),
        ("--log-level", "CAIRN_LOG_LEVEL"),
        ("--log-format", "CAIRN_LOG_FORMAT"),
    ]:
        assert flag in out
        assert env in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "version") == (0, f"cairn {cairn.__version__}\n", "")
    assert run(capsys, "--version") == (0, f"cairn {cairn.__version__}\n", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "cairn: error: the following arguments are required: COMMAND"),
        (["fly"], "cairn: error: argument COMMAND: invalid choice: 'fly'"),
        (["up", "--colour"], "cairn up: error: unrecognized arguments: --colour"),
        (
            ["up", "--listen", "nowhere"],
            "cairn: error: invalid --listen 'nowhere': expected HOST:PORT",
        ),
        (["up", "--store", "mysql://db"], "cairn: error: invalid --store 'mysql://db': expected"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.startswith(message), err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_bad_environment_variable_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_LOG_FORMAT", "xml")
    status, _, err = run(capsys, "up")
    assert status == 2
    assert err == ("cairn: error: invalid CAIRN_LOG_FORMAT 'xml': choose one of console, json\n")
