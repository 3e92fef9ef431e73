from base64 import b32decode
from urllib.parse import urlsplit

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from clinic.roles import CLINICIANS
from tests.base import PASSWORD
from tests.e2e.test_accessibility import serious


def next_code(user) -> str:
    """The authenticator's code one time step ahead of the device as the app now sees it:
    the enrolment code's step is spent, and where confirming it crossed into the next step,
    django-otp moved the device's drift back one (OTP_TOTP_SYNC), which a fixed drift=1
    would then miss."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + 1):06d}"


def test_a_clinician_enrols_signs_out_and_signs_in_with_password_and_code(page, sign_in, clinician):
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    sign_in(clinician, PASSWORD)

    page.get_by_role("link", name="clinician").click()
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    expect(page.locator(".qr-code svg")).to_be_visible()
    key = b32decode(page.locator("#secret").inner_text().replace(" ", ""))
    page.get_by_label("Code").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in is set up")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").locator("li")).to_have_count(10)
    page.get_by_role("link", name="I have kept them: continue").click()
    page.get_by_role("button", name="Sign out").click()

    page.goto("/sign-in/")
    page.get_by_label("Username").fill("clinician")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/sign-in/code/")
    expect(page.get_by_role("link", name="Patients", exact=True)).to_have_count(0)
    # The enrolment code is spent; the app also accepts the next time step's code.
    page.get_by_label("Code").fill(next_code(clinician))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/")
    expect(page.get_by_role("heading", name="Welcome, Cleo Nician")).to_be_visible()
    expect(page.get_by_role("link", name="Patients", exact=True)).to_be_visible()
    assert blocked == []


def test_with_two_factor_required_a_clinician_enrols_with_a_code_from_a_superuser(
    page, browser, live_server, settings, sign_in, clinician, superuser
):
    """Two-factor sign-in required of clinicians: the superuser issues an enrolment code on
    the account review page; the clinician signs in with password and that code, sets up
    the authenticator, and from then on gives password and code on the one sign-in form."""
    settings.TWO_FACTOR_REQUIRED_ROLES = frozenset({CLINICIANS})
    sign_in(superuser, "root-password-1")
    page.goto("/accounts/")
    page.get_by_role("button", name="Issue enrolment code for clinician").click()
    code = page.locator("[data-enrolment-code]").inner_text()
    assert serious(page) == []  # the page that shows the code once
    page.get_by_role("button", name="Sign out").click()

    page.goto("/sign-in/")
    page.get_by_label("Username").fill("clinician")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()  # no code: refused like a wrong password
    expect(page.get_by_text("Please enter a correct user name, password and code")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account/two-factor/")
    key = b32decode(page.locator("#secret").inner_text().replace(" ", ""))
    page.get_by_label("Code").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("link", name="I have kept them: continue").click()
    page.get_by_role("button", name="Sign out").click()

    page.goto("/sign-in/")
    page.get_by_label("Username").fill("clinician")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code").fill(next_code(clinician))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/")
    expect(page.get_by_role("heading", name="Welcome, Cleo Nician")).to_be_visible()
