"""Sign-in and its throttling (django-axes): a lock-out holds one (user name, client address)
pair, never a person everywhere nor everyone at an address."""

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse

from clinic.models import AccountEvent
from clinic.throttling import KNOWN_BROWSER_COOKIE, KNOWN_BROWSER_SALT
from tests.base import PASSWORD

CLINICIAN_HOME = "198.51.100.10"
STRANGER = "203.0.113.66"
PROXY = "10.0.0.2"
BALANCER = "10.0.0.3"


def sign_in(username, password, client=None, **headers):
    client = client or Client()
    response = client.post(
        reverse("login"), {"username": username, "password": password}, **headers
    )
    return response, client


def signed_in(response, client):
    return response.status_code == 302 and "_auth_user_id" in client.session


def fail(username, times=settings.AXES_FAILURE_LIMIT, **headers):
    for _ in range(times):
        response, _ = sign_in(username, "wrong-password", **headers)
        assert response.status_code in (200, 429)


def direct(address):
    return {"REMOTE_ADDR": address}


def via_proxy(forwarded_for, proxy=PROXY):
    """What the app receives from the TLS proxy: it appended the address it saw."""
    return {"REMOTE_ADDR": proxy, "HTTP_X_FORWARDED_FOR": forwarded_for}


def test_a_user_signs_in_with_the_right_password(clinician):
    response, client = sign_in("clinician", PASSWORD)
    assert signed_in(response, client)
    assert response.url == reverse("home")


def test_a_wrong_password_is_refused_with_a_message_and_counted(clinician):
    response, client = sign_in("clinician", "wrong", **direct(CLINICIAN_HOME))
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "clinician",
        CLINICIAN_HOME,
        1,
    )


# (proxies in front, the stranger's failures as, the clinician's sign-in as, locked out?)
LOCKOUT_MATRIX = {
    "same user from another address": (
        0,
        ("clinician", direct(STRANGER)),
        ("clinician", direct(CLINICIAN_HOME)),
        False,
    ),
    "another user from the same address": (
        0,
        ("staff", direct(CLINICIAN_HOME)),
        ("clinician", direct(CLINICIAN_HOME)),
        False,
    ),
    "the locked pair, with the right password": (
        0,
        ("clinician", direct(CLINICIAN_HOME)),
        ("clinician", direct(CLINICIAN_HOME)),
        True,
    ),
    "one proxy: every request from the proxy's address, another client": (
        1,
        ("clinician", via_proxy(STRANGER)),
        ("clinician", via_proxy(CLINICIAN_HOME)),
        False,
    ),
    "one proxy: the same client": (
        1,
        ("clinician", via_proxy(CLINICIAN_HOME)),
        ("clinician", via_proxy(CLINICIAN_HOME)),
        True,
    ),
    "one proxy: a stranger writing the clinician's address into X-Forwarded-For": (
        1,
        ("clinician", via_proxy(f"{CLINICIAN_HOME}, {STRANGER}")),
        ("clinician", via_proxy(CLINICIAN_HOME)),
        False,
    ),
    "one proxy: a stranger changing a forged X-Forwarded-For gets no new tries": (
        1,
        ("clinician", via_proxy(f"192.0.2.1, {STRANGER}")),
        ("clinician", via_proxy(f"192.0.2.99, {STRANGER}")),
        True,
    ),
    "two proxies: another client": (
        2,
        ("clinician", via_proxy(f"{STRANGER}, {BALANCER}")),
        ("clinician", via_proxy(f"{CLINICIAN_HOME}, {BALANCER}")),
        False,
    ),
    "two proxies: the same client behind a forged entry": (
        2,
        ("clinician", via_proxy(f"{STRANGER}, {BALANCER}")),
        ("clinician", via_proxy(f"{CLINICIAN_HOME}, {STRANGER}, {BALANCER}")),
        True,
    ),
    "two proxies: a stranger writing the clinician's address": (
        2,
        ("clinician", via_proxy(f"{CLINICIAN_HOME}, {STRANGER}, {BALANCER}")),
        ("clinician", via_proxy(f"{CLINICIAN_HOME}, {BALANCER}")),
        False,
    ),
}


@pytest.mark.parametrize(
    ("proxies", "failures", "attempt", "locked"),
    LOCKOUT_MATRIX.values(),
    ids=LOCKOUT_MATRIX.keys(),
)
def test_the_lockout_matrix(settings, clinician, staff, proxies, failures, attempt, locked):
    settings.TRUSTED_PROXIES = proxies
    username, headers = failures
    fail(username, **headers)
    username, headers = attempt
    response, client = sign_in(username, PASSWORD, **headers)
    if locked:
        assert response.status_code == 429
        assert "Too many failed sign-ins" in response.content.decode()
        assert "_auth_user_id" not in client.session
    else:
        assert signed_in(response, client)


def test_a_stranger_with_100_failures_from_one_address_cannot_stop_a_clinician_elsewhere(
    clinician, staff
):
    for n in range(100):
        sign_in(["clinician", "staff", f"guess{n}"][n % 3], "wrong", **direct(STRANGER))
    response, client = sign_in("clinician", PASSWORD, **direct(CLINICIAN_HOME))
    assert signed_in(response, client)
    response, client = sign_in("staff", PASSWORD, **direct("192.0.2.40"))
    assert signed_in(response, client)


def test_a_lockout_lasts_fifteen_minutes_from_the_fifth_failure_whatever_the_stranger_does(
    clinician,
):
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    with time_machine.travel("2026-11-26 09:00Z", tick=False):
        fail("clinician", **direct(STRANGER))
    for minute in range(1, 15):  # tries while locked out are refused and not counted
        with time_machine.travel(f"2026-11-26 09:{minute:02d}:30Z", tick=False):
            assert sign_in("clinician", "wrong", **direct(STRANGER))[0].status_code == 429
    with time_machine.travel("2026-11-26 09:14:59Z", tick=False):
        assert sign_in("clinician", PASSWORD, **direct(STRANGER))[0].status_code == 429
    with time_machine.travel("2026-11-26 09:15:01Z", tick=False):
        assert signed_in(*sign_in("clinician", PASSWORD, **direct(STRANGER)))


def test_a_successful_sign_in_clears_the_pairs_failures(clinician):
    fail("clinician", times=settings.AXES_FAILURE_LIMIT - 1)
    assert signed_in(*sign_in("clinician", PASSWORD))
    assert not AccessAttempt.objects.exists()
    fail("clinician", times=settings.AXES_FAILURE_LIMIT - 1)
    assert signed_in(*sign_in("clinician", PASSWORD))


def test_the_admin_sign_in_is_the_apps_sign_in_throttled_the_same_way(client, superuser):
    response = client.get(reverse("admin:login"), {"next": "/admin/"})
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=%2Fadmin%2F"
    response = client.post(reverse("admin:login"), {"username": "root", "password": "x"})
    assert response.status_code == 302  # no second door that checks passwords
    assert not AccessAttempt.objects.exists()
    fail("root")
    assert sign_in("root", "root-password-1")[0].status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302


ODD_NAMES = {
    "151 characters": "c" * 151,
    "10,000 characters": "c" * 10_000,
    "76 dotted capital Is (152 characters once lower-cased)": "İ" * 76,
    "10 characters that NFKC turns into 180": "ﷺ" * 10,
    "a NUL inside a real name": "clin\x00ician",
    "only NULs": "\x00" * 5,
    "a real name plus one": "clinician" + "x" * 142,
}


@pytest.mark.parametrize("username", ODD_NAMES.values(), ids=ODD_NAMES.keys())
def test_odd_user_names_are_ordinary_failures_never_errors(clinician, username):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response, _ = sign_in(username, PASSWORD, **direct(STRANGER))
        assert response.status_code == 200
        assert "enter a correct username and password" in response.content.decode()
    assert sign_in(username, PASSWORD, **direct(STRANGER))[0].status_code == 429
    # Only that name from that address is locked: the clinician is not.
    assert signed_in(*sign_in("clinician", PASSWORD, **direct(STRANGER)))


def test_a_password_with_a_nul_character_is_an_ordinary_failure(clinician):
    response, _ = sign_in("clinician", "correct\x00horse")
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()


def test_an_inactive_user_cannot_sign_in_and_it_counts_as_a_failure(clinician):
    clinician.is_active = False
    clinician.save()
    response, client = sign_in("clinician", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.get().failures_since_start == 1


def test_sign_out_needs_a_post_and_ends_the_session(as_user, clinician):
    client = as_user(clinician)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_sessions_expire_after_thirty_idle_minutes(as_user, clinician):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    with time_machine.travel("2026-11-26 09:00Z", tick=False):
        client = as_user(clinician)
        client.get(reverse("home"))  # every request pushes the expiry on
    with time_machine.travel("2026-11-26 09:29Z", tick=False):
        assert client.get(reverse("home")).status_code == 200
    with time_machine.travel("2026-11-26 10:00Z", tick=False):
        assert client.get(reverse("home")).status_code == 302


def test_at_the_shortest_idle_time_out_an_active_session_lives_on(settings, as_user, clinician):
    """The shortest idle time-out allowed is twice the interval at which the expiry is
    pushed on (120 s): someone working, a request at least every minute, stays signed in
    well past it; two idle minutes end the session."""
    assert settings.SESSION_TOUCH_SECONDS == 60
    settings.SESSION_COOKIE_AGE = 2 * settings.SESSION_TOUCH_SECONDS
    with time_machine.travel("2026-11-26 09:00:00Z", tick=False):
        client = as_user(clinician)
        client.get(reverse("home"))
    for second in range(59, 600, 59):  # a request every 59 s for ten minutes
        at = f"2026-11-26 09:{second // 60:02d}:{second % 60:02d}Z"
        with time_machine.travel(at, tick=False):
            assert client.get(reverse("home")).status_code == 200, at
    with time_machine.travel("2026-11-26 09:11:52Z", tick=False):  # 121 s after the last
        assert client.get(reverse("home")).status_code == 302


def test_sessions_end_twelve_hours_after_sign_in_however_busy(clinician):
    assert settings.SESSION_MAX_SECONDS == 12 * 3600
    with time_machine.travel("2026-11-26 07:00Z", tick=False):
        response, client = sign_in("clinician", PASSWORD)
        assert signed_in(response, client)
    for hour in range(7, 19):  # a request every 20 minutes: never idle
        for minute in (0, 20, 40):
            with time_machine.travel(f"2026-11-26 {hour:02d}:{minute:02d}:01Z", tick=False):
                assert client.get(reverse("home")).status_code == 200
    with time_machine.travel("2026-11-26 19:00:00Z", tick=False):
        response = client.get(reverse("home"), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("login"))
    assert "Sessions end 12 hours after sign-in" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_session_is_written_at_most_once_a_minute_not_on_every_page(as_user, clinician):
    from django.contrib.sessions.models import Session

    with time_machine.travel("2026-11-26 09:00:00Z", tick=False):
        client = as_user(clinician)
        client.get(reverse("home"))
        expiry = Session.objects.get().expire_date
    with time_machine.travel("2026-11-26 09:00:30Z", tick=False):
        client.get(reverse("home"))
        assert Session.objects.get().expire_date == expiry  # no write within the minute
    with time_machine.travel("2026-11-26 09:01:30Z", tick=False):
        client.get(reverse("home"))
        assert Session.objects.get().expire_date > expiry  # pushed on after it


# Guessing one account's password from many addresses (issue 22): each row sends the
# guesser's wrong passwords, then the owner's right one, and says whether the owner is in.
SPRAY_NETWORK = "2001:db8:1:2::"


def spray(guesses, addresses, headers_for):
    per_address = guesses // len(addresses)
    for address in addresses:
        fail("clinician", times=per_address, **headers_for(address))


def many(count, template="198.18.0.{}"):
    return [template.format(n) for n in range(1, count + 1)]


# (proxies, guesses, the guesser's addresses, how they arrive, the owner's attempt:
#  (address headers, from a browser that signed in before?), owner signed in?)
SPRAY_MATRIX = {
    "80 guesses from 20 addresses; the owner, a new browser elsewhere": (
        0, 80, many(20), direct, (direct(CLINICIAN_HOME), False), False,
    ),
    "80 guesses from 20 addresses; the owner, a browser that signed in before": (
        0, 80, many(20), direct, (direct(CLINICIAN_HOME), True), True,
    ),
    "80 guesses from 20 addresses; the guesser's 21st address": (
        0, 80, many(20), direct, (direct("198.18.0.21"), False), False,
    ),
    "15 guesses from 3 addresses (under the account's 20); the owner elsewhere": (
        0, 15, many(3), direct, (direct(CLINICIAN_HOME), False), True,
    ),
    "one proxy, 60 guesses from 12 addresses of one IPv6 /64; a 13th of that /64": (
        1, 60, many(12, SPRAY_NETWORK + "{}"), via_proxy,
        (via_proxy(SPRAY_NETWORK + "99"), False), False,
    ),
    "one proxy, 60 guesses from 12 addresses of one IPv6 /64; the owner in another /64": (
        1, 60, many(12, SPRAY_NETWORK + "{}"), via_proxy,
        (via_proxy("2001:db8:9:9::1"), False), True,
    ),
    "one proxy, 60 guesses from one /64; the same /64 written as IPv4-mapped is IPv4": (
        1, 60, many(12, SPRAY_NETWORK + "{}"), via_proxy,
        (via_proxy("::ffff:198.51.100.10"), False), True,
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("proxies", "guesses", "addresses", "arrive", "owner", "signed_in_after"),
    SPRAY_MATRIX.values(),
    ids=SPRAY_MATRIX.keys(),
)
def test_the_spray_matrix(
    settings, clinician, proxies, guesses, addresses, arrive, owner, signed_in_after
):
    settings.TRUSTED_PROXIES = proxies
    headers, known_browser = owner
    browser = Client()
    if known_browser:  # signed in from this browser last week, then signed out
        with time_machine.travel("2026-11-19 09:00Z", tick=False):
            assert signed_in(*sign_in("clinician", PASSWORD, browser, **headers))
            browser.post(reverse("logout"))
    spray(guesses, addresses, arrive)
    response, client = sign_in("clinician", PASSWORD, browser, **headers)
    if signed_in_after:
        assert signed_in(response, client)
    else:
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session


def test_during_a_spray_the_lock_page_is_the_same_whatever_the_password(clinician):
    """The account's lock is checked before the password: no oracle, and not counted."""
    spray(80, many(20), direct)
    right, _ = sign_in("clinician", PASSWORD, **direct(CLINICIAN_HOME))
    wrong, _ = sign_in("clinician", "wrong", **direct(CLINICIAN_HOME))
    assert right.status_code == wrong.status_code == 429
    assert right.content == wrong.content
    assert "from several places" in right.content.decode()
    assert not AccessAttempt.objects.filter(ip_address=CLINICIAN_HOME).exists()


def test_a_forged_or_foreign_known_browser_cookie_does_not_pass_the_lock(
    clinician, staff, settings
):
    staff_browser = Client()
    assert signed_in(*sign_in("staff", PASSWORD, staff_browser))  # staff's, not clinician's
    staff_browser.post(reverse("logout"))
    spray(80, many(20), direct)
    forged = Client()
    forged.cookies[KNOWN_BROWSER_COOKIE] = signing.dumps(["clinician"], salt="another salt")
    for browser in (staff_browser, forged):
        response, _ = sign_in("clinician", PASSWORD, browser, **direct(CLINICIAN_HOME))
        assert response.status_code == 429


def test_a_known_browser_still_meets_the_pair_limit(clinician):
    browser = Client()
    response, _ = sign_in("clinician", PASSWORD, browser, **direct(CLINICIAN_HOME))
    assert signed_in(response, browser)
    cookie = response.cookies[KNOWN_BROWSER_COOKIE]
    assert (cookie["httponly"], cookie["samesite"], cookie["max-age"]) == (True, "Lax", 90 * 86400)
    browser.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("clinician", "wrong", browser, **direct(CLINICIAN_HOME))
    response, _ = sign_in("clinician", PASSWORD, browser, **direct(CLINICIAN_HOME))
    assert response.status_code == 429


def test_the_account_lock_ends_with_the_cool_off(clinician):
    with time_machine.travel("2026-11-26 09:00Z", tick=False):
        spray(80, many(20), direct)
        assert sign_in("clinician", PASSWORD, **direct(CLINICIAN_HOME))[0].status_code == 429
    with time_machine.travel("2026-11-26 09:15:01Z", tick=False):
        assert signed_in(*sign_in("clinician", PASSWORD, **direct(CLINICIAN_HOME)))


def test_during_a_spray_the_owner_signs_in_from_an_address_they_used_before(clinician):
    """A new computer or cleared cookies at the owner's usual place: the address the account
    signed in from (django-axes' log of sign-ins) lifts the account's lock too."""
    with time_machine.travel("2026-11-19 09:00Z", tick=False):
        assert signed_in(*sign_in("clinician", PASSWORD, **direct(CLINICIAN_HOME)))
    spray(80, many(20), direct)
    assert signed_in(*sign_in("clinician", PASSWORD, Client(), **direct(CLINICIAN_HOME)))
    assert sign_in("clinician", PASSWORD, Client(), **direct("192.0.2.77"))[0].status_code == 429


def test_a_superuser_clears_an_accounts_failed_sign_ins(as_user, superuser, clinician):
    spray(80, many(20), direct)
    assert sign_in("clinician", PASSWORD, **direct(CLINICIAN_HOME))[0].status_code == 429
    review = as_user(superuser)
    assert "Clear failed sign-ins" in review.get(reverse("account_list")).content.decode()
    review.post(reverse("account_action", args=[clinician.pk, "clear-sign-in-lock"]))
    assert not AccessAttempt.objects.filter(username="clinician").exists()
    assert signed_in(*sign_in("clinician", PASSWORD, **direct(CLINICIAN_HOME)))
    event = AccountEvent.objects.get(action="sign_in_failures_cleared")
    # Five addresses' 4 failures reached the account's 20; the other 15 were refused uncounted.
    assert (event.user, event.by, event.detail) == (
        clinician,
        superuser,
        "failures from 5 address(es)",
    )


def test_the_known_browser_cookie_does_not_name_the_accounts(clinician):
    response, _ = sign_in("clinician", PASSWORD)
    value = signing.loads(response.cookies[KNOWN_BROWSER_COOKIE].value, salt=KNOWN_BROWSER_SALT)
    assert "clinician" not in str(value)
    assert len(value) == 1


@pytest.mark.parametrize(
    ("seen", "counted"),
    [
        ("64:ff9b::c633:640a", "198.51.100.10"),  # NAT64
        ("2002:c633:640a::1", "198.51.100.10"),  # 6to4
        ("::ffff:198.51.100.10", "198.51.100.10"),
        ("2001:db8:1:2:aaaa::1", SPRAY_NETWORK),
    ],
)
def test_ipv4_carried_in_ipv6_counts_as_the_ipv4_address(settings, clinician, seen, counted):
    settings.TRUSTED_PROXIES = 1
    sign_in("clinician", "wrong", **via_proxy(seen))
    assert AccessAttempt.objects.get().ip_address == counted
