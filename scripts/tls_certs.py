"""A throw-away certificate authority and certificates, for TLS-only test servers.

``make_tls_files(directory)`` writes a CA, a server certificate it signed for ``localhost``
(only that name, so an identity check against 127.0.0.1 fails), a client certificate, and a
second CA that signed nothing, to see a wrong CA refused.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TLSFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
                 issuer_key: ec.EllipticCurvePrivateKey, ca: bool,
                 extensions: list[tuple[x509.ExtensionType, bool]]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _authority(directory: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Name, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False)
    cert = _certificate(name, key, _name(name), key, True, [(usage, True)])
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, _name(name), path


def _leaf(directory: Path, name: str, ca: tuple[ec.EllipticCurvePrivateKey, x509.Name],
          usage: x509.ObjectIdentifier, hosts: list[str]) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.ExtendedKeyUsage([usage]), False)]
    if hosts:
        extensions.append((x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False))
    cert = _certificate(name, key, ca[1], ca[0], False, extensions)
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return cert_path, key_path


def make_tls_files(directory: Path) -> TLSFiles:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_name, ca_path = _authority(directory, "test-ca")
    server = _leaf(directory, "server", (ca_key, ca_name), ExtendedKeyUsageOID.SERVER_AUTH,
                   ["localhost"])
    client = _leaf(directory, "client", (ca_key, ca_name), ExtendedKeyUsageOID.CLIENT_AUTH, [])
    _, _, other_ca = _authority(directory, "other-ca")
    return TLSFiles(ca_path, *server, *client, other_ca)
