"""Grafana-compatible password hashing (PBKDF2-HMAC-SHA256) and the secrets derived from it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from handlers.inline import ensure_thread

_ALPHANUMERIC = string.digits + string.ascii_uppercase + string.ascii_lowercase


def random_string(length: int = 10) -> str:
    """Random letters and digits, as Grafana makes salts."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def encode_password(password: str, salt: str) -> str:
    """Grafana's stored form: 10,000 rounds, 50-byte key, lower-case hex; salt as raw text."""
    ensure_thread()  # milliseconds of CPU: never on the event loop
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 10_000, dklen=50)
    return key.hex()


def password_matches(password: str, salt: str, stored: str) -> bool:
    return hmac.compare_digest(encode_password(password, salt), stored)


def keyed_hash(value: str, secret_key: str) -> str:
    """How session tokens and service-account keys are stored: never in the clear."""
    return hashlib.sha256((value + secret_key).encode()).hexdigest()


def too_short(password: str) -> bool:
    """Grafana's default policy: fewer than 4 bytes is too short."""
    return len(password.encode()) < 4
