"""The audit against a running cloud, then the same cloud stopped: a real
`cairn up` on a data directory, a rejected login, and the audit finding it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.audit.test_cli import CAIRN, cairn, clean_env
from tests.cli.test_up import free_port

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def _post(url: str, body: object) -> int:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def _wait_until_up(process: subprocess.Popen[str], base: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"cairn up exited with {process.returncode}: {process.communicate()}")
        assert time.monotonic() < deadline, f"cairn up did not answer within {START_TIMEOUT} s"
        try:
            with urllib.request.urlopen(base + "/", timeout=2):
                return
        except OSError:
            time.sleep(0.05)


def test_a_rejected_login_is_in_the_audit_of_a_running_and_a_stopped_cloud(
    tmp_path: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    flags = ["--data-dir", str(tmp_path)]
    process = subprocess.Popen(
        [str(CAIRN), "up", *flags, "--listen", f"127.0.0.1:{port}", "--bcrypt-cost", "4"],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_up(process, base)
        login = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"id": "default"},
                            "password": "not-the-password",
                        }
                    },
                }
            }
        }
        assert _post(base + "/identity/v3/auth/tokens", login) == 401

        running = cairn("audit", "verify", *flags, "--format", "json")
        assert running.status == 0, running.err
        verified = running.json()
        assert isinstance(verified, dict)
        assert verified["ok"] is True
        assert verified["verified"] > 0

        tail = cairn("events", "tail", "--from", "0", "--no-follow", "--format", "json", *flags)
        events = [json.loads(line) for line in tail.out.splitlines()]
        rejected = [e for e in events if e["rejected"]]
        assert len(rejected) == 1, [e["type"] for e in events]
        user = rejected[0]["user"]
        assert user

        who = cairn("audit", "who", user, *flags, "--format", "json")
        rows = who.json()
        assert isinstance(rows, list)
        assert rejected[0]["position"] in [r["position"] for r in rows if r["rejected"]]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail(f"cairn up did not stop within {STOP_TIMEOUT} s")

    stopped = cairn("audit", "verify", *flags, "--format", "json")
    assert stopped.status == 0, stopped.err
    after = stopped.json()
    assert isinstance(after, dict)
    assert after["verified"] >= verified["verified"]
