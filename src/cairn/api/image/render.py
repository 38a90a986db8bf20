"""Images and members as Glance v2 shows them (api-ref "Show image" and "Show image member")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cairn.projections.image import Image, Member


def timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_body(image: Image) -> dict[str, Any]:
    attrs = image.attributes
    data = image.data
    body: dict[str, Any] = dict(attrs.properties)
    body.update(
        id=image.id,
        name=attrs.name,
        status=image.status,
        visibility=attrs.visibility,
        protected=attrs.protected,
        os_hidden=attrs.os_hidden,
        owner=image.owner,
        disk_format=attrs.disk_format,
        container_format=attrs.container_format,
        min_disk=attrs.min_disk,
        min_ram=attrs.min_ram,
        size=data.size if data else None,
        virtual_size=data.virtual_size if data else None,
        checksum=data.checksum if data else None,
        os_hash_algo=data.os_hash_algo if data else None,
        os_hash_value=data.os_hash_value if data else None,
        tags=list(attrs.tags),
        created_at=timestamp(image.created_at),
        updated_at=timestamp(image.updated_at),
        self=f"/v2/images/{image.id}",
        file=f"/v2/images/{image.id}/file",
        schema="/v2/schemas/image",
    )
    if data is not None:
        body["stores"] = "file"
    return body


def member_body(image: Image, member: Member) -> dict[str, Any]:
    return {
        "image_id": image.id,
        "member_id": member.member_id,
        "status": member.status,
        "created_at": timestamp(member.created_at),
        "updated_at": timestamp(member.updated_at),
        "schema": "/v2/schemas/member",
    }
