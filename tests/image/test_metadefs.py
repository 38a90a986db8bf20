"""Metadata definitions (/v2/metadefs): namespaces with their resource types,
objects, properties and tags; who sees them; their schemas; the projection."""

from __future__ import annotations

from typing import Any

import pytest

from tests.image.conftest import Cloud

NS = "/v2/metadefs/namespaces"


async def namespace(cloud: Cloud, name: str = "OS::Test", **fields: Any) -> dict[str, Any]:
    status, body = await cloud.call("POST", NS, json={"namespace": name, **fields})
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def test_namespace_lifecycle_and_protection(cloud: Cloud) -> None:
    _, types = await cloud.call("GET", "/v2/metadefs/resource_types", as_="alpha")
    image_type = types["resource_types"][0]["name"]
    made = await namespace(cloud, "ns1", visibility="public", protected=True, display_name="N",
                           resource_type_associations=[{"name": image_type}])  # fmt: skip
    assert made["resource_type_associations"][0]["name"] == image_type
    assert (made["namespace"], made["visibility"], made["protected"]) == ("ns1", "public", True)
    status, _ = await cloud.call("POST", NS, json={"namespace": "ns1"})
    assert status == 409
    status, fault = await cloud.call("DELETE", f"{NS}/ns1")
    assert status == 403, fault
    status, body = await cloud.call(
        "PUT", f"{NS}/ns1", json={"namespace": "ns1", "visibility": "private", "protected": False}
    )
    assert status == 200, body
    assert (body["visibility"], body["protected"]) == ("private", False)
    status, _ = await cloud.call("GET", f"{NS}/ns1", as_="alpha")
    assert status == 404  # private, and not alpha's
    assert (await cloud.call("DELETE", f"{NS}/ns1"))[0] == 204
    assert (await cloud.call("GET", f"{NS}/ns1"))[0] == 404


async def test_only_admins_change_and_visibility_decides_who_reads(cloud: Cloud) -> None:
    await namespace(cloud, "public-ns", visibility="public")
    await namespace(cloud, "private-ns")
    status, _ = await cloud.call("POST", NS, as_="alpha", json={"namespace": "mine"})
    assert status == 403
    _, body = await cloud.call("GET", NS, as_="alpha")
    assert [n["namespace"] for n in body["namespaces"]] == ["public-ns"]
    _, body = await cloud.call("GET", NS)
    assert {n["namespace"] for n in body["namespaces"]} == {"public-ns", "private-ns"}
    _, body = await cloud.call("GET", f"{NS}?limit=1")
    assert len(body["namespaces"]) == 1
    assert "next" in body
    for query in ("limit=0", "limit=x", "marker=nope", "visibility=all"):
        assert (await cloud.call("GET", f"{NS}?{query}"))[0] == 400, query
    status, _ = await cloud.call("DELETE", f"{NS}/public-ns", as_="alpha")
    assert status == 403


async def test_rename_moves_the_contents(cloud: Cloud) -> None:
    await namespace(cloud, "old", tags=[{"name": "t"}])
    status, body = await cloud.call("PUT", f"{NS}/old", json={"namespace": "new"})
    assert status == 200, body
    assert (await cloud.call("GET", f"{NS}/old"))[0] == 404
    _, body = await cloud.call("GET", f"{NS}/new/tags")
    assert [t["name"] for t in body["tags"]] == ["t"]
    await namespace(cloud, "old")  # the old name is free
    status, _ = await cloud.call("PUT", f"{NS}/new", json={"namespace": "old"})
    assert status == 409


async def test_objects_properties_and_tags(cloud: Cloud) -> None:
    await namespace(cloud, "ns")
    base = f"{NS}/ns"
    prop = {"name": "hw_x", "title": "X", "type": "string", "enum": ["a", "b"]}
    status, body = await cloud.call("POST", f"{base}/properties", json=prop)
    assert status == 201, body
    assert body == {**prop}
    status, body = await cloud.call(
        "PUT", f"{base}/properties/hw_x", json={**prop, "title": "Y", "name": "hw_y"}
    )
    assert (status, body["title"], body["name"]) == (200, "Y", "hw_y")
    _, body = await cloud.call("GET", f"{base}/properties")
    assert body == {"properties": {"hw_y": {"title": "Y", "type": "string", "enum": ["a", "b"]}}}
    obj = {"name": "o", "required": ["p"], "properties": {"p": {"title": "P", "type": "integer"}}}
    status, body = await cloud.call("POST", f"{base}/objects", json=obj)
    assert status == 201, body
    assert body["properties"]["p"]["type"] == "integer"
    status, body = await cloud.call("PUT", f"{base}/objects/o", json={"name": "o2"})
    assert (status, body["name"]) == (200, "o2")
    _, body = await cloud.call("GET", f"{base}/objects")
    assert [o["name"] for o in body["objects"]] == ["o2"]
    status, body = await cloud.call(
        "POST", f"{base}/tags", json={"tags": [{"name": "a"}, {"name": "b"}]}
    )
    assert status == 201, body
    assert (await cloud.call("POST", f"{base}/tags/c"))[0] == 201
    assert (await cloud.call("POST", f"{base}/tags/c"))[0] == 409
    status, body = await cloud.call("PUT", f"{base}/tags/c", json={"name": "d"})
    assert (status, body["name"]) == (200, "d")
    _, body = await cloud.call("GET", f"{base}/tags")
    assert sorted(t["name"] for t in body["tags"]) == ["a", "b", "d"]
    await cloud.call("POST", f"{base}/tags", json={"tags": [{"name": "z"}]})
    _, body = await cloud.call("GET", f"{base}/tags")
    assert [t["name"] for t in body["tags"]] == ["z"]  # a POST of the list replaces it
    _, shown = await cloud.call("GET", base)
    assert (list(shown["properties"]), shown["objects"][0]["name"]) == (["hw_y"], "o2")
    for kind in ("tags", "objects", "properties"):
        assert (await cloud.call("DELETE", f"{base}/{kind}"))[0] == 204
    _, shown = await cloud.call("GET", base)
    assert not {"properties", "objects", "tags"} & set(shown)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (NS, {"namespace": ""}),
        (NS, {"namespace": "a/b"}),
        (NS, {"namespace": "x", "visibility": "everyone"}),
        (NS, {"namespace": "x", "properties": {"p": {"title": "P", "type": "colour"}}}),
        (NS, {"namespace": "x", "tags": [{"name": "t"}, {"name": "t"}]}),
        (f"{NS}/ns/properties", {"title": "no name", "type": "string"}),
        (f"{NS}/ns/properties", {"name": "p", "type": "string"}),
        (f"{NS}/ns/objects", {"name": "o", "properties": {"p": {"type": "string"}}}),
        (f"{NS}/ns/tags", {"tags": "t"}),
        (f"{NS}/ns/resource_types", {"name": "bad name!"}),
    ],
)
async def test_bad_bodies_are_400s(cloud: Cloud, path: str, body: Any) -> None:
    await namespace(cloud, "ns")
    status, fault = await cloud.call("POST", path, json=body)
    assert status == 400, fault


async def test_resource_type_associations(cloud: Cloud) -> None:
    await namespace(cloud, "ns")
    base = f"{NS}/ns/resource_types"
    status, body = await cloud.call(
        "POST", base, json={"name": "OS::Nova::Flavor", "prefix": "hw:"}
    )
    assert (status, body["prefix"]) == (201, "hw:")
    assert (await cloud.call("POST", base, json={"name": "OS::Nova::Flavor"}))[0] == 409
    await cloud.call("POST", base, json={"name": "OS::Custom::Thing"})
    _, body = await cloud.call("GET", "/v2/metadefs/resource_types")
    assert "OS::Custom::Thing" in [t["name"] for t in body["resource_types"]]
    _, body = await cloud.call("GET", f"{NS}?resource_types=OS::Nova::Flavor")
    assert [n["namespace"] for n in body["namespaces"]] == ["ns"]
    assert (await cloud.call("DELETE", f"{base}/OS::Nova::Flavor"))[0] == 204
    assert (await cloud.call("DELETE", f"{base}/OS::Nova::Flavor"))[0] == 404
    _, body = await cloud.call("GET", base)
    assert [a["name"] for a in body["resource_type_associations"]] == ["OS::Custom::Thing"]


@pytest.mark.parametrize(
    ("kind", "name"),
    [("namespace", "namespace"), ("namespaces", "namespaces"),
     ("resource_type", "resource_type_association"),
     ("resource_types", "resource_type_associations"), ("object", "object"),
     ("objects", "objects"), ("property", "property"), ("properties", "properties"),
     ("tag", "tag"), ("tags", "tags")],
)  # fmt: skip
async def test_schemas(cloud: Cloud, kind: str, name: str) -> None:
    status, body = await cloud.call("GET", f"/v2/schemas/metadefs/{kind}", as_="alpha")
    assert status == 200
    assert body["name"] == name
    assert (await cloud.call("GET", "/v2/schemas/metadefs/nope"))[0] == 404


async def test_the_projection_replays_to_the_same_namespaces(cloud: Cloud) -> None:
    from cairn.projections.image import ImageProjection

    await namespace(cloud, "ns", tags=[{"name": "t"}], visibility="public")
    await cloud.call("PUT", f"{NS}/ns", json={"namespace": "renamed", "visibility": "public"})
    events = await cloud.images.store.read_all(after=0, limit=100_000)
    projection = ImageProjection()
    state = projection.initial()
    for event in events:
        state = projection.apply(state, event)
    assert state.namespaces == cloud.images.state.namespaces
    assert list(state.namespaces) == ["renamed"]
