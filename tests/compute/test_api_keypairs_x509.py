"""x509 keypairs (2.2+): generated certificates and imported ones."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from tests.compute.conftest import ComputeCloud

from cairn.compute import x509_keys


async def test_generated_and_imported_x509_keypairs(cloud: ComputeCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    body = {"keypair": {"name": "win", "type": "x509"}}
    status, answer = await cloud.call("POST", "/os-keypairs", alice, body, version="2.2")
    assert status == 201, answer
    made = answer["keypair"]
    assert made["type"] == "x509"
    assert made["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    certificate = x509.load_pem_x509_certificate(made["public_key"].encode())
    common_name = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert common_name[0].value == alice.user_id
    assert made["fingerprint"] == x509_keys.fingerprint(made["public_key"])
    assert made["fingerprint"].count(":") == 19  # SHA-1
    status, answer = await cloud.call("GET", "/os-keypairs/win", alice, version="2.2")
    assert (answer["keypair"]["type"], answer["keypair"]["fingerprint"]) == (
        "x509",
        made["fingerprint"],
    )
    assert "private_key" not in answer["keypair"]
    status, _ = await cloud.call("GET", "/os-keypairs/win", bob, version="2.2")
    assert status == 404

    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    body = {"keypair": {"name": "imported", "type": "x509", "public_key": pem}}
    status, answer = await cloud.call("POST", "/os-keypairs", bob, body, version="2.2")
    assert status == 201, answer
    assert answer["keypair"]["fingerprint"] == made["fingerprint"]
    assert "private_key" not in answer["keypair"]


async def test_bad_x509_keypairs_are_400(cloud: ComputeCloud) -> None:
    alice = await cloud.member()
    for keypair in (
        {"name": "bad", "type": "x509", "public_key": "-----BEGIN CERTIFICATE-----\nnope\n"},
        {"name": "bad", "type": "x509", "public_key": "ssh-ed25519 AAAA"},
        {"name": "bad", "type": "pgp"},
    ):
        status, body = await cloud.call(
            "POST", "/os-keypairs", alice, {"keypair": keypair}, version="2.2"
        )
        assert status == 400, keypair
        assert body["badRequest"]["code"] == 400
    status, body = await cloud.call(
        "POST", "/os-keypairs", alice, {"keypair": {"name": "old", "type": "x509"}}
    )
    assert status == 400  # 'type' is 2.2's
    status, body = await cloud.call("GET", "/os-keypairs", alice, version="2.2")
    assert body["keypairs"] == []
