"""The small read-only documents: ``/limits``, ``/os-availability-zone`` and
``/extensions``."""

from __future__ import annotations

from aiohttp import web

from cairn.api.volume.common import caller, volumes
from cairn.volume import quota

#: the extensions whose behaviour this service has (Cinder's aliases)
EXTENSIONS = (
    ("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
    (
        "os-extended-snapshot-attributes",
        "ExtendedSnapshotAttributes",
        "Extended SnapshotAttributes support.",
    ),
    ("os-quota-sets", "Quotas", "Quota management support."),
    ("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id."),
    ("os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with volume."),
    ("os-volume-actions", "VolumeActions", "Enable volume actions."),
    ("os-admin-actions", "AdminActions", "Enable admin actions."),
    ("os-types-manage", "TypesManage", "Types manage support."),
    ("os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."),
)


async def limits(request: web.Request) -> web.Response:
    who = caller(request)
    service = volumes(request)
    limit = quota.limits(service.state, service.config.quotas, who.project_id)
    used = quota.usage(service.state, who.project_id)
    backups, backup_gigabytes = quota.backup_usage(service.state, who.project_id)
    absolute = {
        "maxTotalVolumes": limit["volumes"],
        "maxTotalSnapshots": limit["snapshots"],
        "maxTotalVolumeGigabytes": limit["gigabytes"],
        "maxTotalBackups": limit["backups"],
        "maxTotalBackupGigabytes": limit["backup_gigabytes"],
        "totalVolumesUsed": used.volumes,
        "totalGigabytesUsed": used.gigabytes,
        "totalSnapshotsUsed": used.snapshots,
        "totalBackupsUsed": backups,
        "totalBackupGigabytesUsed": backup_gigabytes,
    }
    return web.json_response({"limits": {"rate": [], "absolute": absolute}})


async def zones(request: web.Request) -> web.Response:
    caller(request)
    zone = volumes(request).config.availability_zone
    return web.json_response(
        {"availabilityZoneInfo": [{"zoneName": zone, "zoneState": {"available": True}}]}
    )


async def extensions(request: web.Request) -> web.Response:
    caller(request)
    listed = [
        {
            "alias": alias,
            "name": name,
            "description": description,
            "updated": "2013-01-01T00:00:00+00:00",
            "links": [],
        }
        for alias, name, description in EXTENSIONS
    ]
    return web.json_response({"extensions": listed})
