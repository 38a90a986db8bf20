"""Typed keys of the identity service: its core on the root application (so every
service's auth middleware finds it), its configuration, and the caller."""

from __future__ import annotations

from aiohttp import web

from cairn.identity.config import IdentityConfig
from cairn.identity.service import Authenticated, Identity

#: Set by the identity service's context; read by every service's auth middleware.
IDENTITY: web.AppKey[Identity] = web.AppKey("identity", Identity)
#: Set by the composition root before the identity context runs.
IDENTITY_CONFIG: web.AppKey[IdentityConfig] = web.AppKey("identity_config", IdentityConfig)
#: On each request: the caller, once its token has been validated.
CALLER: web.RequestKey[Authenticated] = web.RequestKey("caller", Authenticated)
#: Set by the identity context when this start generated the admin password;
#: the runtime shows it once, on stderr, after the server answers.
GENERATED_ADMIN_PASSWORD: web.AppKey[str] = web.AppKey("generated_admin_password", str)
