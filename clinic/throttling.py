"""Sign-in throttling: what django-axes counts failures by, and the lock that makes the
check and the count one step.

django-axes locks out a (user name, client address) pair after AXES_FAILURE_LIMIT
failures. It checks the count before the password and adds to it after; two requests
for the same pair in parallel would both pass the check, so `serialised` holds a lock
per pair across the whole of `authenticate`.
"""

import hashlib
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from ipware.ip import get_client_ip

from clinic.backends import USERNAME_MAX_LENGTH


def username_key(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The user name as django-axes stores it: as typed, cut to the longest name an
    account can have, without NUL characters (PostgreSQL refuses them in text).

    A longer name cannot be anyone's, so cutting it only groups strangers' failures.
    """
    if credentials is not None:
        username = credentials.get("username")
    else:
        username = request.POST.get("username") if request is not None else None
    if not isinstance(username, str):
        return ""
    return username.replace("\x00", "\ufffd")[:USERNAME_MAX_LENGTH]


def client_address(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind DJANGO_TRUSTED_PROXIES proxies the
    address the outermost of them saw, that is the Nth entry from the right of
    X-Forwarded-For (a client may write anything into the header; each proxy appends).

    django-ipware parses the header. Only X-Forwarded-For is read, and its answer is taken
    as it is: given REMOTE_ADDR as well, ipware prefers whichever address is "more
    public", which behind a public proxy would put every private client at the proxy's
    address. A header too short for the configured proxies (a request that did not come
    through them) falls back to REMOTE_ADDR.
    """
    proxies: int = settings.TRUSTED_PROXIES
    if proxies > 0:
        address, _ = get_client_ip(
            request,
            proxy_order="left-most",
            proxy_count=proxies - 1,  # ipware counts the entries right of the client's
            request_header_order=["HTTP_X_FORWARDED_FOR"],
            strict=False,  # entries left of the client's are the client's own, not checked
        )
        if address is not None:
            return address
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


@contextmanager
def serialised(request: HttpRequest, username: str) -> Iterator[None]:
    """One sign-in at a time for a (user name, address) pair, in one transaction.

    PostgreSQL: a transaction-level advisory lock on a hash of the pair, so that other
    pairs go on in parallel. SQLite: the transaction itself, which this project starts
    IMMEDIATE (settings.py), serialises every writer.
    """
    key = f"{username_key(request, {'username': username})}\x00{client_address(request)}"
    lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
        yield
