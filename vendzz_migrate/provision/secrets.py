"""Password hashes for the rendered configs: a cleartext password is never written or shown."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def scram_sha256(password: str, *, salt: bytes | None = None, iterations: int = 4096) -> str:
    """A PostgreSQL/PgBouncer SCRAM-SHA-256 secret (RFC 5802/7677, the format of pg_authid)."""
    salt = salt if salt is not None else os.urandom(16)
    normalized = unicodedata.normalize("NFKC", password).encode("utf-8")
    salted = hashlib.pbkdf2_hmac("sha256", normalized, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def md5_secret(user: str, password: str) -> str:
    """PostgreSQL's md5 secret: ``md5`` + md5(password + user)."""
    return "md5" + hashlib.md5((password + user).encode("utf-8"), usedforsecurity=False).hexdigest()


def userlist_line(user: str, password: str, auth_type: str) -> str:
    secret = scram_sha256(password) if auth_type == "scram-sha-256" else md5_secret(user, password)
    return f'"{user.replace(chr(34), chr(34) * 2)}" "{secret}"\n'


def redis_acl_hash(password: str) -> str:
    """Redis ACL ``#<sha256>`` form: redis.conf holds the hash, not the password."""
    return "#" + hashlib.sha256(password.encode("utf-8")).hexdigest()
