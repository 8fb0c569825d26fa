"""Secrets at rest (scrypt) and the rules a teacher's password must meet.

The rules follow NIST SP 800-63B: a length floor, a check against well-known passwords
and the user's own name, no composition rules and no forced periodic change.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from lang_assess.errors import LangAssessError

PASSWORD_MIN = 12
PASSWORD_MAX = 128
BESIDES_USER_NAME = 8  # characters a password must have besides the user name in it
# Well-known passwords (lists of leaked passwords, Norwegian ones added); compared in
# lower case and also with trailing digits and signs taken off ("Passord123!" → "passord").
COMMON = frozenset((
    "password", "passord", "passwort", "qwerty", "qwertyuiop", "asdfghjkl", "azerty", "abc123",
    "letmein", "welcome", "iloveyou", "admin", "administrator", "root", "login", "master",
    "secret", "monkey", "dragon", "football", "baseball", "sunshine", "princess", "shadow",
    "superman", "trustno1", "starwars", "whatever", "freedom", "changeme", "default", "teacher",
    "laerer", "lærer", "skole", "skolen", "norge", "norway", "kristiansand", "sommer", "vinter",
    "høst", "hosten", "vaar", "var", "fotball", "hemmelig", "velkommen", "123456789012",
    "1234567890", "12345678", "123456789", "1111111111", "0000000000", "qwerty123456",
    "passwordpassword", "passordpassord", "adminadmin",
))


class PasswordRejected(LangAssessError, ValueError):
    """A new password breaks a rule; ``problems`` names each rule (see
    :func:`password_problems`)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the password is not accepted: " + "; ".join(
            RULES.get(p, p) for p in problems))


RULES = {
    "too_short": f"it needs at least {PASSWORD_MIN} characters",
    "too_long": f"it has more than {PASSWORD_MAX} characters",
    "has_user_name": f"it needs {BESIDES_USER_NAME} characters besides the user name",
    "common": "it is a well-known password",
    "too_few_characters": "it needs at least 5 different characters",
    "same_as_old": "it is the old password",
}


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """scrypt (N = 2¹⁴, r = 8, p = 1) of ``secret`` as ``scrypt$salt$digest`` (hex)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_secret(secret: str, stored: str) -> bool:
    """True when ``secret`` hashes to ``stored``.  Always costs one scrypt, also for an
    empty or malformed ``stored`` (a wrong guess and a missing account take equal time)."""
    try:
        _, salt, _ = stored.split("$")
        salt_bytes = bytes.fromhex(salt)
    except ValueError:
        hash_secret(secret, dummy_salt())
        return False
    return hmac.compare_digest(hash_secret(secret, salt_bytes), stored)


@cache
def dummy_salt() -> bytes:
    """A salt for the scrypt run when there is no stored hash to check against."""
    return secrets.token_bytes(16)


@cache
def dummy_hash() -> str:
    """A hash nobody's secret matches: checked when a code's lookup or a user name is
    unknown, so unknown and known ones take the same time."""
    return hash_secret(secrets.token_urlsafe(24))


def password_problems(password: str, username: str = "") -> list[str]:
    """The rules ``password`` breaks, as keys: ``too_short`` (under 12 characters),
    ``too_long`` (over 128), ``has_user_name`` (under 8 characters left once the user
    name is taken out), ``common`` (a well-known password), ``too_few_characters``
    (under 5 different characters).  Empty when accepted."""
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append("too_short")
    if len(password) > PASSWORD_MAX:
        problems.append("too_long")
    lowered = password.lower()
    user = username.strip().lower()
    if user and len(lowered.replace(user, "")) < BESIDES_USER_NAME:
        problems.append("has_user_name")
    stripped = lowered.rstrip("0123456789!?.,#@*+-_ ")
    if lowered in COMMON or stripped in COMMON or stripped.lstrip("0123456789") in COMMON:
        problems.append("common")
    if len(set(password)) < 5:
        problems.append("too_few_characters")
    return problems


def temporary_password() -> str:
    """A random one-time password for a new or reset account (100 bits: four groups of
    five from 32 letters and digits); the teacher must choose their own at login."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))
