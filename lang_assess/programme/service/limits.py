"""Login limits that slow a guesser down without locking anyone out.

Every try — a participant's code or a teacher's password, right or wrong, for a code or
user name that exists or not — is one :class:`~lang_assess.programme.store.models.LoginAttempt`
row of keyed hashes.  Wrong tries are counted per *client*: per page (its kernel), per
address, and per (code or user name, address).  A code or user name is paused only when
many addresses have guessed at it, and even then not on a device it has been used on
(:class:`~lang_assess.programme.store.models.TrustedDevice`).  The numbers are in
``programme.yaml`` (``access``); docs/privacy.md has the arithmetic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lang_assess.programme.rules import ProgrammeConfig
from lang_assess.programme.service.base import _aware
from lang_assess.programme.store.models import LoginAttempt, ServerKey, TrustedDevice


@dataclass(frozen=True)
class ClientInfo:
    """Where a login comes from, as the page server saw it: the client's address, the
    browser's device cookie and the page's kernel id.  The service keeps only keyed
    hashes of these; empty fields (a notebook, the command line) count as one client."""

    address: str = ""
    device: str = ""
    page: str = ""


@dataclass(frozen=True)
class AttemptKeys:
    """The keyed hashes one login try is counted under (32 hex characters each)."""

    kind: str
    subject: str
    client: str
    device: str
    page: str


def server_key(db: Session, name: str = "login") -> bytes:
    """The random key ``name`` shared by every server on this database, made on first
    use (two servers making it at once agree on the first one stored)."""
    value = db.scalar(select(ServerKey.value).where(ServerKey.name == name))
    if value is None:
        try:
            with db.begin_nested():
                db.add(ServerKey(name=name, value=secrets.token_hex(32)))
        except IntegrityError:
            pass
        value = db.scalar(select(ServerKey.value).where(ServerKey.name == name))
    return bytes.fromhex(value)


def keyed(key: bytes, label: str, text: str) -> str:
    """HMAC-SHA-256 of ``text`` under ``key``, labelled, as 32 hex characters."""
    return hmac.new(key, f"{label}\x00{text}".encode(), hashlib.sha256).hexdigest()[:32]


def attempt_keys(key: bytes, kind: str, subject: str, client: ClientInfo) -> AttemptKeys:
    """The keys a try at ``subject`` (a code's lookup half, a user name) by ``client``
    is counted under."""
    return AttemptKeys(
        kind=kind, subject=keyed(key, kind, subject),
        client=keyed(key, "address", client.address),
        device=keyed(key, "device", client.device) if client.device else "",
        page=keyed(key, "page", client.page) if client.page else "")


def _minutes_left(times: list[dt.datetime], limit: int, window: dt.timedelta,
                  now: dt.datetime) -> int | None:
    """Minutes until fewer than ``limit`` of ``times`` (newest first) are in the
    window; None when already fewer."""
    if limit <= 0 or len(times) < limit:
        return None
    free_at = _aware(times[limit - 1]) + window
    return max(1, math.ceil((free_at - now).total_seconds() / 60))


def _failures(db: Session, keys: AttemptKeys, since: dt.datetime, limit: int,
              *conditions: object) -> list[dt.datetime]:
    return list(db.scalars(
        select(LoginAttempt.at).where(LoginAttempt.kind == keys.kind,
                                      LoginAttempt.ok.is_(False), LoginAttempt.at > since,
                                      *conditions)
        .order_by(LoginAttempt.at.desc()).limit(max(limit, 1))))


def client_wait(db: Session, keys: AttemptKeys, now: dt.datetime, config: ProgrammeConfig,
                *, trusted: bool) -> int | None:
    """Minutes this client must wait before trying again, or None.  The page, the
    address, and (unless the device is ``trusted`` for this subject) the subject from
    this address each have a limit; the longest wait wins."""
    client = dt.timedelta(minutes=config.client_window_minutes)
    pair = dt.timedelta(minutes=config.pair_window_minutes)
    checks = [(config.client_max_failures, client, (LoginAttempt.client == keys.client,))]
    if keys.page:
        checks.append((config.page_max_failures, client, (LoginAttempt.page == keys.page,)))
    if not trusted:
        checks.append((config.pair_max_failures, pair, (LoginAttempt.client == keys.client,
                                                         LoginAttempt.subject == keys.subject)))
    waits = [_minutes_left(_failures(db, keys, now - window, limit, *where), limit, window,
                           now) for limit, window, where in checks]
    found = [w for w in waits if w is not None]
    return max(found) if found else None


def pause_wait(db: Session, keys: AttemptKeys, now: dt.datetime,
               config: ProgrammeConfig) -> int | None:
    """Minutes a subject stays paused for untrusted devices: it has ``pause_failures``
    wrong tries from at least ``pause_clients`` addresses within the window.  Counted
    alike whether the subject exists or not."""
    window = dt.timedelta(minutes=config.pause_window_minutes)
    rows = db.execute(
        select(LoginAttempt.at, LoginAttempt.client).where(
            LoginAttempt.kind == keys.kind, LoginAttempt.subject == keys.subject,
            LoginAttempt.ok.is_(False), LoginAttempt.at > now - window)
        .order_by(LoginAttempt.at.desc()).limit(10_000)).all()
    if len({c for _, c in rows}) < config.pause_clients:
        return None
    return _minutes_left([t for t, _ in rows], config.pause_failures, window, now)


def record_attempt(db: Session, keys: AttemptKeys, now: dt.datetime, ok: bool) -> None:
    """Keep one try (its keys, time and outcome)."""
    db.add(LoginAttempt(at=now, kind=keys.kind, subject=keys.subject, client=keys.client,
                        device=keys.device, page=keys.page, ok=ok))


def purge_attempts(db: Session, now: dt.datetime, config: ProgrammeConfig) -> None:
    """Forget tries older than the longest window (they no longer count)."""
    longest = max(config.client_window_minutes, config.pair_window_minutes,
                  config.pause_window_minutes)
    db.execute(delete(LoginAttempt).where(
        LoginAttempt.at < now - dt.timedelta(minutes=longest)))


def is_trusted(db: Session, kind: str, subject_id: int, device: str) -> bool:
    """Whether the device (keyed hash; "" for none) has logged in as this subject."""
    if not device:
        return False
    return db.scalar(select(TrustedDevice.id).where(
        TrustedDevice.kind == kind, TrustedDevice.subject_id == subject_id,
        TrustedDevice.device == device)) is not None


def trust_device(db: Session, kind: str, subject_id: int, device: str,
                 now: dt.datetime) -> None:
    """Remember that the device logged in as this subject (or when it last did)."""
    if not device:
        return
    row = db.scalar(select(TrustedDevice).where(
        TrustedDevice.kind == kind, TrustedDevice.subject_id == subject_id,
        TrustedDevice.device == device))
    if row is None:
        db.add(TrustedDevice(kind=kind, subject_id=subject_id, device=device,
                             last_seen_at=now))
    else:
        row.last_seen_at = now


def forget_devices(db: Session, kind: str, subject_id: int) -> None:
    """Trust no device for this subject any more (a new code, a reset password)."""
    db.execute(delete(TrustedDevice).where(TrustedDevice.kind == kind,
                                           TrustedDevice.subject_id == subject_id))
