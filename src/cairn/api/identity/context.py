"""The identity service's lifetime: keys, read model, core, bootstrap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from cairn.api.identity.keys import GENERATED_ADMIN_PASSWORD, IDENTITY, IDENTITY_CONFIG
from cairn.api.keys import SERVICES, STORE
from cairn.api.services import PREFIXES
from cairn.identity.bootstrap import bootstrap
from cairn.identity.passwords import PasswordHasher
from cairn.identity.policy import PolicyEngine
from cairn.identity.service import Identity
from cairn.identity.tokens import TokenProvider
from cairn.keyring import KeyRepository
from cairn.logs import get_logger
from cairn.projections.identity import IdentityProjection
from cairn.readmodel import ProjectionRunner
from cairn.sealing import Sealer

log = get_logger(__name__)


async def identity_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[IDENTITY_CONFIG]
    keys = await asyncio.to_thread(KeyRepository(config.keys_dir).ensure)
    sealing_keys = await asyncio.to_thread(KeyRepository(config.credential_keys_dir).ensure)
    hasher = await asyncio.to_thread(PasswordHasher, config.bcrypt_cost)
    policy = await asyncio.to_thread(PolicyEngine.from_file, config.policy_file)
    runner = ProjectionRunner(app[STORE], IdentityProjection())
    await runner.start()
    try:
        identity = Identity(
            app[STORE], runner, TokenProvider(keys, ttl=config.token_ttl), hasher, policy,
            lockout_attempts=config.lockout_attempts, lockout_seconds=config.lockout_seconds,
            sealer=Sealer(sealing_keys),
        )  # fmt: skip
        app[IDENTITY] = identity
        # The catalog lists what this process serves, as each service declares it.
        catalog = app[SERVICES].catalog()
        outcome = await bootstrap(identity, config, catalog, tuple(PREFIXES.values()))
        if outcome.generated_admin_password is not None:
            app[GENERATED_ADMIN_PASSWORD] = outcome.generated_admin_password
        log.info("identity ready", clouds_yaml=str(outcome.clouds_yaml), token_keys=len(keys))
        yield
    finally:
        await runner.stop()
