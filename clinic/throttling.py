"""Sign-in throttling: what django-axes counts failures by, the limit per account across
addresses, the browsers that may pass it, and the lock that makes the check and the count
one step.

Two limits, both checked before the password is (so that neither says whether it was
right):

- **A (user name, address) pair** is locked after AXES_FAILURE_LIMIT (5) failures for
  AXES_COOLOFF_TIME (15 minutes). An IPv6 address counts as its /64 (`throttled_address`):
  one client usually holds a whole /64, 2^64 addresses to rotate through.
- **An account** is locked for new browsers once AXES_ACCOUNT_FAILURE_LIMIT (20) failures
  from all addresses together fall within the cool-off (`ClinicAxesHandler`). One address
  can add at most 5 before its own lock, so it takes four or more addresses (a spray) to
  reach it: a single stranger never locks the owner out.

During an account lock the owner still signs in from a browser that signed in to this
account before (`KNOWN_BROWSER_COOKIE`, OWASP's "device cookie"): a value signed with the
server's secret key, naming (by a keyed hash) the accounts signed in from that browser,
set only after a complete sign-in (password, and the code where one is used); or from an
address (/64) this account signed in from in the last 90 days (django-axes' AccessLog). A
stranger cannot make the cookie without the secret key or a complete sign-in; either way
in lifts the account lock only: the pair limit still holds. A superuser can clear an
account's failures on the account review page.

django-axes checks the count before the password and adds to it after; two requests for
the same pair in parallel would both pass the check, so `serialised` holds a lock per pair
across the whole of `authenticate`.
"""

import hashlib
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from ipware.ip import get_client_ip

from clinic.backends import USERNAME_MAX_LENGTH

KNOWN_BROWSER_COOKIE = "known_browser"
KNOWN_BROWSER_SALT = "clinic.throttling.known-browser"
KNOWN_BROWSER_DAYS = 90
KNOWN_BROWSER_ACCOUNTS = 5  # the most recent ones a browser remembers


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


# The well-known NAT64 prefix: an IPv4 client reached through a NAT64 gateway.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def throttled_address(request: HttpRequest) -> str | None:
    """The address failures are counted by (AXES_CLIENT_IP_CALLABLE): the client's
    address, an IPv6 one as the first address of its /64. An IPv4 address carried in IPv6
    (::ffff:a.b.c.d, 6to4's 2002::/16, NAT64's 64:ff9b::/96) counts as that IPv4 address:
    otherwise every client behind a NAT64 gateway would share one /64."""
    address = client_address(request)
    if address is None:
        return None
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return str(embedded)
        return str(ipaddress.IPv6Network((ip, 64), strict=False).network_address)
    return address


def account_failures(username: str, request: HttpRequest) -> int:
    """Failures for this user name from every address, within the cool-off."""
    total = AccessAttempt.objects.filter(
        username=username, attempt_time__gte=get_cool_off_threshold(request)
    ).aggregate(failures=Sum("failures_since_start"))["failures"]
    return int(total or 0)


def account_mark(username: str) -> str:
    """An account as the known-browser cookie names it: a keyed hash, so that the cookie of
    a shared computer does not list who signed in there."""
    return salted_hmac(KNOWN_BROWSER_SALT, username, algorithm="sha256").hexdigest()[:32]


def known_marks(request: HttpRequest) -> list[str]:
    """The accounts this browser signed in to before, from its signed cookie (none if the
    cookie is missing, altered, signed with another key or older than 90 days)."""
    try:
        marks = signing.loads(
            request.COOKIES.get(KNOWN_BROWSER_COOKIE, ""),
            salt=KNOWN_BROWSER_SALT,
            max_age=KNOWN_BROWSER_DAYS * 86400,
        )
    except signing.BadSignature:
        return []
    return [mark for mark in marks if isinstance(mark, str)] if isinstance(marks, list) else []


def known_browser(request: HttpRequest, username: str) -> bool:
    return account_mark(username) in known_marks(request)


def known_address(request: HttpRequest, username: str) -> bool:
    """Whether this account signed in from this address (its /64) in the last 90 days,
    by django-axes' log of sign-ins: the owner's usual place, where a known browser may be
    missing (a new computer, cookies cleared)."""
    since = timezone.now() - timedelta(days=KNOWN_BROWSER_DAYS)
    return bool(
        AccessLog.objects.filter(
            username=username, ip_address=throttled_address(request), attempt_time__gte=since
        ).exists()
    )


def remember_browser(request: HttpRequest, response: HttpResponse, username: str) -> None:
    """After a complete sign-in: this browser may pass the account's lock from now on."""
    mark = account_mark(username)
    marks = [mark, *(known for known in known_marks(request) if known != mark)]
    response.set_cookie(
        KNOWN_BROWSER_COOKIE,
        signing.dumps(marks[:KNOWN_BROWSER_ACCOUNTS], salt=KNOWN_BROWSER_SALT),
        max_age=KNOWN_BROWSER_DAYS * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


class ClinicAxesHandler(AxesDatabaseHandler):  # type: ignore[misc]  # django-axes is untyped
    """django-axes' database handler, with the per-account limit across addresses: a
    browser that has not signed in to the account before is refused once the account's
    failures reach AXES_ACCOUNT_FAILURE_LIMIT within the cool-off. The refusal comes before
    the password is checked, and looks the same whatever the password (the lock-out page,
    which says which limit was met: `request.account_locked`)."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        username = username_key(request, credentials)
        if (
            not username
            or account_failures(username, request) < settings.AXES_ACCOUNT_FAILURE_LIMIT
        ):
            return False
        locked = not (known_browser(request, username) or known_address(request, username))
        request.account_locked = locked  # type: ignore[attr-defined]
        return locked


@contextmanager
def serialised(request: HttpRequest, username: str) -> Iterator[None]:
    """One sign-in at a time for a (user name, address) pair, in one transaction.

    PostgreSQL: a transaction-level advisory lock on a hash of the pair, so that other
    pairs go on in parallel. SQLite: the transaction itself, which this project starts
    IMMEDIATE (settings.py), serialises every writer.
    """
    key = f"{username_key(request, {'username': username})}\x00{throttled_address(request)}"
    lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
        yield
