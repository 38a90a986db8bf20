"""``cairn events tail`` through the API: the real console script against a
running cloud, with a token or a clouds.yaml login; same rows as the store path."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import yaml

from tests.events_stream.conftest import StreamCloud
from tests.identity.conftest import ADMIN_PASSWORD

CAIRN = Path(sys.executable).with_name("cairn")


async def tail(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "OS_"))}
    process = await asyncio.create_subprocess_exec(
        str(CAIRN), "events", "tail", *args, env={**base, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_tail_through_the_api_with_a_token(cloud: StreamCloud) -> None:
    positions = await cloud.gadgets(3, writer="t")
    url = str(cloud.client.make_url("")).rstrip("/")
    status, out, err = await tail(
        "--url", url, "--token", cloud.admin_token, "--from", str(positions[1]),
        "--type", "Gadget*", "--count", "2", "--format", "json",
    )  # fmt: skip
    assert status == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["position"] for r in rows] == positions[1:]
    assert rows[0]["stream"] == "gadget-t-1"
    assert rows[0]["user"] == "u"
    assert rows[0]["project"] == "p-red"
    assert rows[0]["data"]["gadget_id"] == "t-1"
    # The same rows as the store path prints (line format too).
    status, out, _ = await tail(
        "--url", url, "--from", str(positions[0]), "--category", "gadget", "--count", "1",
        env={"OS_TOKEN": cloud.admin_token},
    )  # fmt: skip
    assert status == 0
    assert out.startswith(f"#{positions[0]} ")
    assert "gadget-t-0 v1  GadgetMade  user=u project=p-red" in out


async def test_tail_logs_in_with_clouds_yaml_and_refusals_are_one_line(
    cloud: StreamCloud, tmp_path: Path
) -> None:
    await cloud.gadgets(1, writer="y")
    url = str(cloud.client.make_url("")).rstrip("/")
    clouds = tmp_path / "clouds.yaml"
    auth = {"auth_url": url + "/identity", "username": "admin", "password": ADMIN_PASSWORD,
            "project_name": "admin", "user_domain_name": "Default",
            "project_domain_name": "Default"}  # fmt: skip
    clouds.write_text(yaml.safe_dump({"clouds": {"mine": {"auth": auth}}}))
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds)}
    status, out, err = await tail(
        "--os-cloud", "mine", "--url", url, "--from", "0", "--category", "gadget",
        "--count", "1", env=env,
    )  # fmt: skip
    assert status == 0, err
    assert "gadget-y-0" in out
    status, _, err = await tail("--url", url, "--token", "bogus")
    assert status == 1
    assert err.strip().splitlines() == [err.strip()]
    assert "401" in err
    status, _, err = await tail("--os-cloud", "nowhere", env=env)
    assert status == 1
    assert "no cloud named 'nowhere'" in err
