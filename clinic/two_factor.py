"""Two-factor sign-in with django-otp: one authenticator app (TOTP) and ten single-use
recovery codes per person.

A code is checked by django-otp against each of the user's confirmed devices, inside a
transaction with the device row locked: a TOTP code is accepted once (the device keeps
the last time step used), a recovery code is deleted when used, and each device slows
down guessing after failures (OTP_*_THROTTLE_FACTOR, doubling the wait each time).
"""

from base64 import b32encode

import django_otp
import segno
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils.safestring import SafeString, mark_safe
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.roles import SUPERUSER

RECOVERY_CODES = 10
TOTP_DIGITS = 6  # django-otp's default, what authenticator apps show


def in_force() -> bool:
    """Whether DJANGO_2FA_REQUIRED_ROLES names any role: then the code is asked for with
    the password, for everyone (clinic.forms.accounts.SignInForm), so that the password
    step never answers differently when the password is right."""
    return bool(settings.TWO_FACTOR_REQUIRED_ROLES)


def role_requires_it(user: User) -> bool:
    """Whether DJANGO_2FA_REQUIRED_ROLES names one of the user's roles."""
    required: frozenset[str] = settings.TWO_FACTOR_REQUIRED_ROLES
    if not required:
        return False
    if user.is_superuser and SUPERUSER in required:
        return True
    return bool(user.groups.filter(name__in=required).exists())


def is_enrolled(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def new_authenticator(user: User) -> TOTPDevice:
    """The authenticator being set up: the same secret until it is confirmed, so that
    reloading the page does not change the QR code under the person scanning it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


@transaction.atomic
def confirm(device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the authenticator with one code from it; on success it replaces any earlier
    authenticator, and the recovery codes are new. Returns the recovery codes, to be shown
    once, or None when the code is wrong."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if not device.verify_token(code):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    StaticDevice.objects.filter(user=device.user).delete()
    recovery = StaticDevice.objects.create(user=device.user, name="Recovery codes")
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    return codes


def verify(user: User, code: str) -> Device | None:
    """The device that accepts this code, if any: six digits are for the authenticator,
    anything else for the recovery codes (so that a recovery code does not count as a
    failure against the authenticator, which would slow its next code down)."""
    model = TOTPDevice if len(code) == TOTP_DIGITS and code.isdigit() else StaticDevice
    for device in model.objects.devices_for_user(user, confirmed=True):
        verified: Device | None = django_otp.verify_token(user, device.persistent_id, code)
        if verified is not None:
            return verified
    return None


def recovery_codes_left(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def remove_devices(user: User) -> int:
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).count()
        model.objects.filter(user=user).delete()
    return removed


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps ask for it when typed in: base32, in groups of 4."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(device: TOTPDevice) -> SafeString:
    """The otpauth:// address as a QR code, drawn here as inline SVG markup (no image
    service; only presentation attributes, so the Content-Security-Policy allows it)."""
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", title="QR code for your authenticator app"
    )
    return mark_safe(svg)  # noqa: S308  (segno's markup: paths and the escaped title above)
