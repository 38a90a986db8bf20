"""``cairn agent compute``: help, one-line errors, and a clean start and stop
(the SIGKILL test in test_agent_restart.py runs it for real on QEMU)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from cairn.cli.main import main
from cairn.store.sqlite import SQLiteEventStore


def test_help_explains_what_works_together(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["agent", "compute", "--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    for text in ("--host", "--hypervisor", "--store", "--bus", "--image-dir", "sqlite:///FILE"):
        assert text in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "a/b"], "invalid --host 'a/b'"),
        (["--store", "mysql://x"], "invalid --store"),
        (["--hypervisor", "nonsense"], "invalid --hypervisor"),
        (["--image-dir", "/no/such/dir"], "invalid --image-dir"),
    ],
)
def test_bad_options_fail_in_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agent", "compute", *args]) == 2

    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


async def test_an_unreachable_hypervisor_fails_in_one_line(tmp_path: Path) -> None:
    # A process of its own: the command configures logging for the whole process.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cairn.cli.main", "agent", "compute", "--host", "h",
        "--data-dir", str(tmp_path),
        "--hypervisor", f"qemu+unix:///system?socket={tmp_path}/no-such-socket",
        "--image-dir", str(tmp_path), "--log-level", "critical",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 1
    text = err.decode().strip()
    assert text.startswith("cairn: error: cannot connect to libvirt")
    assert len(text.splitlines()) == 1


async def test_sigterm_stops_the_agent_cleanly(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cairn.cli.main", "agent", "compute", "--host", "cli-test",
        "--data-dir", str(tmp_path), "--hypervisor", "test:///default",
        "--image-dir", str(tmp_path), "--log-format", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    assert line.decode().strip() == "Compute agent cli-test is up"

    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0
    assert b'"event": "compute.agent_stopped"' in err
    async with await SQLiteEventStore.open(tmp_path / "cairn.sqlite") as store:
        types = [e.type for e in await store.read_stream("computehost-cli-test")]
    assert types == ["ComputeHostRegistered", "ComputeHostStopped"]
