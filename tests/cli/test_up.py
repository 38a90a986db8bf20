"""``cairn up`` end to end: the real console script in a subprocess.

Once on the embedded defaults (SQLite in a temporary data directory, the
in-process bus) and once on PostgreSQL and RabbitMQ. Both servers run on every
development and CI machine: when one is missing, the test fails, it does not
skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

CAIRN = Path(sys.executable).with_name("cairn")
AMQP_URL = os.environ.get("CAIRN_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without Cairn's settings; the network agent is off unless a
    test asks for it (``--network-agent on``): it owns the machine's datapath."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    return {**env, "CAIRN_NETWORK_AGENT": "off", **extra}


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The next line ``process`` prints on stdout, waiting at most ``timeout`` s."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        pytest.fail(f"cairn up printed nothing on stdout within {timeout} s")
    return process.stdout.readline()


@dataclass
class Outcome:
    startup_s: float
    exit_code: int
    stop_s: float
    stdout: str
    stderr: str

    def log_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]


def up_check_and_stop(*args: str, env: dict[str, str]) -> Outcome:
    """Run ``cairn up``, wait (bounded) until it answers, check ``/`` and a 404
    fault, send SIGTERM, and wait (bounded) for it to exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    process = subprocess.Popen(
        [str(CAIRN), "up", "--listen", f"127.0.0.1:{port}", "--log-format", "json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while True:
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"cairn up exited with {process.returncode}:\n{out}\n{err}")
            if time.monotonic() - started > START_TIMEOUT:
                pytest.fail(f"cairn up did not answer within {START_TIMEOUT} s")
            try:
                status, headers, body = get(base + "/")
                break
            except OSError:
                time.sleep(0.02)
        startup_s = time.monotonic() - started

        assert status == 200
        assert headers["x-openstack-request-id"].startswith("req-")
        root = json.loads(body)
        assert root["name"] == "Cairn"
        assert root["links"] == [{"rel": "self", "href": base + "/"}]

        status, headers, body = get(base + "/no/such/thing")
        assert status == 404
        assert headers["x-openstack-request-id"].startswith("req-")
        assert json.loads(body) == {
            "itemNotFound": {"code": 404, "message": "The resource could not be found."}
        }
        # It answers as soon as it listens; the line follows its own probe.
        announced = read_line(process, timeout=10)
    finally:
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"cairn up did not stop within {STOP_TIMEOUT} s of SIGTERM:\n{err}")
    outcome = Outcome(
        startup_s, process.returncode, time.monotonic() - stopping, announced + out, err
    )
    print(f"cairn up: answered after {startup_s:.2f} s, "
          f"stopped {outcome.stop_s:.2f} s after SIGTERM")  # fmt: skip
    return outcome


def check_clean_run(outcome: Outcome) -> list[dict[str, object]]:
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stop_s < 5
    assert outcome.stdout.startswith("Cairn is up at http://127.0.0.1:")
    assert outcome.stdout.count("\n") == 1
    assert "Traceback" not in outcome.stderr
    lines = outcome.log_lines()
    events = [line["event"] for line in lines]
    for event in ("starting Cairn", "outbox relay running", "Cairn is up", "Cairn stopped"):
        assert event in events
    # The access log line of the 404, with its fields.
    [access] = [
        line for line in lines if line["event"] == "request" and line["path"] == "/no/such/thing"
    ]
    assert access["status"] == 404
    assert access["method"] == "GET"
    assert str(access["request_id"]).startswith("req-")
    assert isinstance(access["duration_ms"], float)
    assert isinstance(access["bytes"], int)
    return lines


def test_up_on_embedded_defaults(tmp_path: Path) -> None:
    data = tmp_path / "data"
    outcome = up_check_and_stop(env=clean_env(CAIRN_DATA_DIR=str(data)))
    lines = check_clean_run(outcome)
    [starting] = [line for line in lines if line["event"] == "starting Cairn"]
    assert starting["store"] == f"sqlite:///{data}/cairn.sqlite"
    assert starting["bus"] == "in-process"
    assert (data / "cairn.sqlite").is_file()


def test_sigint_stops_it_too(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(CAIRN), "up", "--data-dir", str(tmp_path), "--listen", f"127.0.0.1:{port}"],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = read_line(process, timeout=START_TIMEOUT)  # printed once it answers
    assert line == f"Cairn is up at http://127.0.0.1:{port}\n"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=STOP_TIMEOUT)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(CAIRN), "up", "--data-dir", str(tmp_path), "--listen", f"127.0.0.1:{port}",
             "--log-level", "critical"],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"cairn: error: cannot listen on 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1


def require_rabbitmq() -> None:
    parts = urlsplit(AMQP_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 5672), timeout=5).close()
    except OSError as exc:
        pytest.fail(f"RabbitMQ is not reachable at {parts.hostname}:{parts.port} ({exc})")


@pytest.mark.postgres
@pytest.mark.rabbitmq
async def test_up_on_postgresql_and_rabbitmq(tmp_path: Path, pg_database: str) -> None:
    require_rabbitmq()
    # A password in the store URL must never be logged: add one if the test
    # database has none (its trust authentication ignores it).
    parts = urlsplit(pg_database)
    secret = parts.password or "pg-s3cret"
    if parts.password is None:
        parts = parts._replace(netloc=f"{parts.username}:{secret}@{parts.hostname}:{parts.port}")
    store = urlunsplit(parts)
    outcome = await asyncio.to_thread(
        up_check_and_stop,
        "--store", store, "--bus", AMQP_URL, "--data-dir", str(tmp_path),
        env=clean_env(),
    )  # fmt: skip
    lines = check_clean_run(outcome)
    [starting] = [line for line in lines if line["event"] == "starting Cairn"]
    assert starting["store"] == store.replace(f":{secret}@", ":***@")
    assert str(starting["bus"]).startswith("amqp")
    for password in (secret, urlsplit(AMQP_URL).password):
        assert password
        assert f":{password}@" not in outcome.stderr
    assert ":***@" in str(starting["bus"])
