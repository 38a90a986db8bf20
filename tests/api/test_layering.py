"""DESIGN.md section 4, checked: adapters are wired only in the composition
roots (cairn.runtime, cairn.compute_hosts, cairn.cli.agent); the compute agent
takes the adapters it is given, and the compute API knows only ports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: adapters a service must not build itself (the composition roots do)
ADAPTERS = {
    "GlanceImages",
    "GlanceImageSource",
    "NeutronPorts",
    "CloudsYamlAuth",
    "LibvirtDriver",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_the_compute_agent_imports_no_api_and_no_web_server() -> None:
    # aiohttp's client is an adapter's business (Glance, Neutron); its server is the API's.
    for path in sorted((ROOT / "agents" / "compute").glob("*.py")):
        found = _imports(path)
        bad = {n for n in found if n.startswith(("cairn.api", "aiohttp.web"))}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_compute_agents_runtime_wires_no_adapter() -> None:
    found = _imports(ROOT / "agents" / "compute" / "runtime.py")
    assert not {n for n in found if n.rsplit(".", 1)[-1] in ADAPTERS}


def test_the_compute_api_builds_no_adapter() -> None:
    for path in sorted((ROOT / "src" / "cairn" / "api" / "compute").glob("*.py")):
        found = _imports(path)
        bad = {n for n in found if n.rsplit(".", 1)[-1] in ADAPTERS}
        assert not bad, f"{path.name} imports {sorted(bad)}"
