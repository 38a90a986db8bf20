"""x509 keypairs (Nova's ``type: x509``, 2.2+): a certificate instead of an SSH key,
for guests (Windows, WinRM) that authenticate a client by certificate.

An imported certificate must parse as PEM; its fingerprint is the SHA-1 of its
DER form, colon-separated, as Nova computes it. A generated pair is a new RSA
key and a self-signed client-authentication certificate for the user (the
``CN`` and the UPN ``user@localhost`` WinRM maps to an account), returned once.
"""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from cairn.compute.errors import Invalid

#: Microsoft's User Principal Name otherName, the name WinRM maps a certificate by
UPN = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
VALID_DAYS = 3650


def fingerprint(certificate: str) -> str:
    """SHA-1 of the certificate's DER, colon-separated; :class:`Invalid` if it is
    not a PEM certificate."""
    try:
        loaded = x509.load_pem_x509_certificate(certificate.strip().encode())
    except ValueError as exc:
        raise Invalid(f"Keypair data is invalid: failed to generate fingerprint ({exc})") from None
    digest = hashlib.sha1(
        loaded.public_bytes(serialization.Encoding.DER), usedforsecurity=False
    ).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _utf8_string(text: str) -> bytes:
    """``text`` as a DER UTF8String (the UPN's value inside its otherName)."""
    data = text.encode()
    if len(data) >= 128:
        raise Invalid("Keypair data is invalid: the user name is too long for a certificate")
    return bytes([0x0C, len(data)]) + data


def generate(user_id: str) -> tuple[str, str]:
    """A new (private key PEM, self-signed certificate PEM) for ``user_id``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.OtherName(UPN, _utf8_string(f"{user_id}@localhost"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return private, certificate.public_bytes(serialization.Encoding.PEM).decode()
