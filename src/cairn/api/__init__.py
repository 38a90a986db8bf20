"""Cairn's HTTP edge: one aiohttp application, one port, a prefix per service.

* :mod:`cairn.api.services` — :class:`Service` and :class:`Route`: a service is
  data; the registry mounts it under its DevStack-style prefix.
* :mod:`cairn.api.app` — :func:`build_app`: the root application with the
  discovery document (``/``), ``/healthz`` and every service.
* :mod:`cairn.api.edge` — request ids and fault bodies for every response.
* :mod:`cairn.api.faults` — :class:`HTTPFault` and OpenStack's fault shapes.
* :mod:`cairn.api.body` — :func:`read_json`: request bodies, 4xx on bad input.
* :mod:`cairn.api.accesslog` — the structured access log.
* :mod:`cairn.api.keys` — typed keys for application and request state.

The API knows ports, never adapters: :mod:`cairn.runtime` wires those in.
"""

from cairn.api.accesslog import RUNNER_OPTIONS, AccessLog
from cairn.api.app import build_app
from cairn.api.body import read_json
from cairn.api.edge import REQUEST_ID_HEADER
from cairn.api.faults import FaultStyle, HTTPFault, fault_response, nova_fault
from cairn.api.keys import BUS, HEALTH_CHECKS, REQUEST_ID, SERVICES, STORE
from cairn.api.services import (
    PREFIXES,
    Route,
    Service,
    ServiceRegistry,
    delete,
    get,
    patch,
    post,
    put,
)

__all__ = [
    "BUS",
    "HEALTH_CHECKS",
    "PREFIXES",
    "REQUEST_ID",
    "REQUEST_ID_HEADER",
    "RUNNER_OPTIONS",
    "SERVICES",
    "STORE",
    "AccessLog",
    "FaultStyle",
    "HTTPFault",
    "Route",
    "Service",
    "ServiceRegistry",
    "build_app",
    "delete",
    "fault_response",
    "get",
    "nova_fault",
    "patch",
    "post",
    "put",
    "read_json",
]
