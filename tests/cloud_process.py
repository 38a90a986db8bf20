"""``cairn up`` as a subprocess for end-to-end tests: started with the options a
test needs, waited for, stopped with SIGTERM, and required to exit 0; and
:class:`Running`, the started cloud, driven by the real ``openstack`` CLI with
nothing but the ``clouds.yaml`` it wrote."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.cli.test_up import clean_env, free_port, read_line

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0


@dataclass
class Running:
    url: str
    data: Path
    stderr_path: Path

    @property
    def clouds(self) -> dict[str, dict[str, object]]:
        loaded = yaml.safe_load((self.data / "clouds.yaml").read_text())
        return loaded["clouds"]  # type: ignore[no-any-return]

    def openstack(self, *args: str, cloud: str = "cairn-admin", env: dict[str, str] | None = None,
                  check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
        command = [str(BIN / "openstack"), *(["--os-cloud", cloud] if cloud else []), *args]
        environ = clean_env(OS_CLIENT_CONFIG_FILE=str(self.data / "clouds.yaml"), **(env or {}))
        environ = {k: v for k, v in environ.items() if not k.startswith("OS_") or k in (
            "OS_CLIENT_CONFIG_FILE", *(env or {}))}  # fmt: skip
        result = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    def json(self, *args: str, **kw: object) -> object:
        return json.loads(self.openstack(*args, "-f", "json", **kw).stdout)  # type: ignore[arg-type]


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
def cairn_up(data: Path, *options: str, killed: bool = False) -> Iterator[tuple[Running, int]]:
    """Run ``cairn up --data-dir data *options`` until the block ends; yields the
    cloud and the server's pid. ``killed``: the block SIGKILLs the server itself."""
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
    expected = -signal.SIGKILL if killed else 0
    assert process.returncode == expected, stderr_path.read_text()
