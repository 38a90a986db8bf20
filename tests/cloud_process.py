"""``cairn up`` as a subprocess for end-to-end tests: started with the options a
test needs, waited for, stopped with SIGTERM, and required to exit 0."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.cli.test_up import clean_env, free_port, read_line
from tests.identity.test_real_clients import BIN, START_TIMEOUT, Running

REPO = Path(__file__).resolve().parents[1]


def build_guest() -> Path:
    """The test guest's directory (built into the cache on first use, as CI and
    ``scripts/up`` build it)."""
    result = subprocess.run(
        [REPO / "scripts" / "build-guest-image"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/build-guest-image failed:\n{result.stderr}")
    return Path(result.stdout.split()[0]).parent


@contextlib.contextmanager
def cairn_up(data: Path, *options: str) -> Iterator[tuple[Running, int]]:
    """Run ``cairn up --data-dir data *options`` until the block ends; yields the
    cloud and the server's pid."""
    port = free_port()
    data.parent.mkdir(parents=True, exist_ok=True)
    stderr_path = data.parent / "stderr.log"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [str(BIN / "cairn"), "up", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}",
             "--log-format", "json", "--bcrypt-cost", "4", *options],
            env=clean_env(), stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
        try:
            line = read_line(process, START_TIMEOUT)
            assert line == f"Cairn is up at http://127.0.0.1:{port}\n", stderr_path.read_text()
            yield Running(f"http://127.0.0.1:{port}", data, stderr_path), process.pid
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
    assert process.returncode == 0, stderr_path.read_text()
