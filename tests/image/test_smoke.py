from tests.image.conftest import Cloud


async def test_smoke(cloud: Cloud) -> None:
    made = await cloud.create(name="x", as_="alpha")
    assert made["status"] == "queued"
    assert await cloud.upload(made["id"], b"hello" * 1000, as_="alpha") == 204
    status, shown = await cloud.call("GET", f"/v2/images/{made['id']}", as_="alpha")
    assert shown["status"] == "active", shown
    status, data = await cloud.call("GET", f"/v2/images/{made['id']}/file", as_="alpha")
    assert data == b"hello" * 1000
    status, body = await cloud.call("GET", f"/v2/images/{made['id']}", as_="beta")
    assert status == 404, body
    print(body)
