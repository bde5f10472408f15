"""Decrypting MySQL passwords sent RSA-encrypted (``is_mysql_password_encrypted=true``).

dtle's clients encrypt each password with the server's RSA public key (PKCS#1 v1.5 padding) and
base64-encode the ciphertext; the server holds the PEM private key in a file.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from replication.errors import ConfigError


def load_private_key(key_path: str) -> rsa.RSAPrivateKey:
    """Read the PEM private key or raise ``ConfigError`` saying why it is unusable."""
    if not key_path:
        raise ConfigError("no RSA private key is configured (DTLE_RSA_PRIVATE_KEY_PATH)")
    try:
        pem = Path(key_path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the RSA private key file {key_path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{key_path} does not hold a PEM RSA private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{key_path} does not hold an RSA private key")
    return key


def decrypt_password(encrypted: str, key_path: str) -> str:
    """The plain password from base64(RSA-PKCS1v15(password))."""
    try:
        ciphertext = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("the encrypted password is not valid base64") from exc
    key = load_private_key(key_path)
    try:
        plain = key.decrypt(ciphertext, padding.PKCS1v15())
    except ValueError as exc:
        raise ConfigError("the encrypted password cannot be decrypted with the RSA key") from exc
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("the decrypted password is not UTF-8 text") from exc
