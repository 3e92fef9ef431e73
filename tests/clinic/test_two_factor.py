"""Two-factor sign-in: enrolment, the code step (authenticator or recovery code), codes that
work once, forced enrolment by role, and a superuser's reset."""

import re
from base64 import b32encode
from io import StringIO

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import AccountEvent, EnrolmentCode
from clinic.roles import CLINICIANS, SUPERUSER
from tests.base import PASSWORD

T0 = "2026-11-26 09:00:00Z"


def code_for(device, drift_steps=0):
    return f"{totp(device.bin_key, drift=-drift_steps):06d}"


def sign_in(client, username, password=PASSWORD, code=None, **params):
    url = reverse("login") + (f"?next={params['next']}" if "next" in params else "")
    data = {"username": username, "password": password}
    if code is not None:
        data["code"] = code
    return client.post(url, data)


def is_signed_in(client):
    return "_auth_user_id" in client.session


@pytest.fixture
def enrolled(clinician):
    """The clinician with a confirmed authenticator and two recovery codes."""
    device = TOTPDevice.objects.create(user=clinician, name="phone", confirmed=True)
    static = StaticDevice.objects.create(user=clinician, name="Recovery codes")
    StaticToken.objects.bulk_create(
        [StaticToken(device=static, token="abcd2345"), StaticToken(device=static, token="wxyz6789")]
    )
    return device


def test_enrolment_shows_a_qr_code_and_the_secret_then_confirms_with_one_code(as_user, staff):
    with time_machine.travel(T0, tick=False) as clock:
        client = as_user(staff)
        page = client.get(reverse("two_factor_enrol"))
        html = page.content.decode()
        device = TOTPDevice.objects.get(user=staff)
        assert not device.confirmed
        qr = re.search(r"<svg.*?</svg>", html, re.S).group(0)
        assert "<path" in qr
        assert "style=" not in qr
        assert "<script" not in qr
        secret = b32encode(device.bin_key).decode()
        shown = re.search(r'id="secret">([A-Z2-7 ]+)<', html).group(1)
        assert shown.replace(" ", "") == secret
        # Reloading keeps the secret: the person may be half-way through scanning.
        client.get(reverse("two_factor_enrol"))
        assert TOTPDevice.objects.get(user=staff).key == device.key

        wrong = client.post(reverse("two_factor_enrol"), {"code": "000000"})
        assert "That code is not right" in wrong.content.decode()
        clock.shift(5)  # past django-otp's back-off after a failure
        response = client.post(reverse("two_factor_enrol"), {"code": code_for(device)})
        assert response.url == reverse("two_factor_recovery_codes")
        device.refresh_from_db()
        assert device.confirmed

        shown = client.get(reverse("two_factor_recovery_codes")).content.decode()
        codes = re.findall(r"<li>([a-z2-7]{8})</li>", shown)
        assert len(codes) == 10
        assert sorted(codes) == sorted(StaticToken.objects.values_list("token", flat=True))
        again = client.get(reverse("two_factor_recovery_codes"))  # shown once only
        assert again.url == reverse("account")
    assert AccountEvent.objects.get().action == AccountEvent.Action.SECOND_FACTOR_ENROLLED


def test_the_account_page_offers_enrolment_to_anyone_without_a_second_factor(as_user, outsider):
    page = as_user(outsider).get(reverse("account")).content.decode()
    assert "Off." in page
    assert reverse("two_factor_enrol") in page


def test_someone_already_enrolled_is_not_shown_a_new_secret(as_user, clinician, enrolled):
    response = as_user(clinician).get(reverse("two_factor_enrol"))
    assert response.url == reverse("account")
    assert TOTPDevice.objects.filter(user=clinician).count() == 1


def test_with_an_authenticator_the_password_alone_does_not_sign_in(clinician, enrolled):
    client = Client()
    response = sign_in(client, "clinician")
    assert response.url == reverse("sign_in_code")
    assert not is_signed_in(client)
    assert client.get(reverse("patients:list")).status_code == 302


def test_signing_in_with_a_code_from_the_authenticator(clinician, enrolled):
    client = Client()
    sign_in(client, "clinician", next="/patients/")
    response = client.post(reverse("sign_in_code"), {"code": code_for(enrolled)})
    assert response.url == "/patients/"
    assert is_signed_in(client)
    assert client.get(reverse("patients:list")).status_code == 200


def test_a_code_already_used_is_refused(clinician, enrolled):
    first, second = Client(), Client()
    with time_machine.travel(T0, tick=False):
        code = code_for(enrolled)
        sign_in(first, "clinician")
        first.post(reverse("sign_in_code"), {"code": code})
        assert is_signed_in(first)
    with time_machine.travel("2026-11-26 09:00:20Z", tick=False):  # same 30 s step
        sign_in(second, "clinician")
        response = second.post(reverse("sign_in_code"), {"code": code})
    assert "That code is not right, or was used already" in response.content.decode()
    assert not is_signed_in(second)


def test_a_wrong_code_is_refused(clinician, enrolled):
    client = Client()
    sign_in(client, "clinician")
    response = client.post(reverse("sign_in_code"), {"code": "12345\x00"})
    assert response.status_code == 200
    assert not is_signed_in(client)


def test_signing_in_with_a_recovery_code_which_then_works_no_more(clinician, enrolled):
    client = Client()
    sign_in(client, "clinician")
    response = client.post(reverse("sign_in_code"), {"code": "ABCD 2345"})
    assert response.url == reverse("home")
    assert is_signed_in(client)
    assert list(StaticToken.objects.values_list("token", flat=True)) == ["wxyz6789"]

    again = Client()
    sign_in(again, "clinician")
    response = again.post(reverse("sign_in_code"), {"code": "abcd2345"})
    assert response.status_code == 200
    assert not is_signed_in(again)


def test_the_code_must_follow_the_password_within_five_minutes(clinician, enrolled):
    client = Client()
    with time_machine.travel(T0, tick=False):
        sign_in(client, "clinician")
    with time_machine.travel("2026-11-26 09:05:01Z", tick=False):
        response = client.post(reverse("sign_in_code"), {"code": code_for(enrolled)})
    assert response.url == reverse("login")
    assert not is_signed_in(client)


def test_the_code_page_without_the_password_step_goes_back_to_sign_in(client):
    assert client.get(reverse("sign_in_code")).url == reverse("login")


@pytest.fixture
def required(settings):
    settings.TWO_FACTOR_REQUIRED_ROLES = frozenset({CLINICIANS, SUPERUSER})


def issue_code(superuser, person):
    """What a superuser does on the account review page: the code, shown once."""
    boss = Client()
    boss.force_login(superuser)
    page = boss.post(reverse("account_action", args=[person.pk, "enrolment-code"]))
    assert page.status_code == 200
    return re.search(r"data-enrolment-code>([A-Z0-9-]+)<", page.content.decode())[1]


def without_csrf(response):
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_a_required_role_without_an_authenticator_cannot_enrol_with_the_password_alone(
    required, clinician
):
    """The password alone used to enrol whoever knew it first: no more."""
    client = Client()
    response = sign_in(client, "clinician")
    assert response.status_code == 200
    assert not is_signed_in(client)
    assert "enter a correct user name, password and code" in response.content.decode()
    assert client.get(reverse("two_factor_enrol")).url.startswith(reverse("login"))
    assert not TOTPDevice.objects.filter(user=clinician).exists()
    assert AccessAttempt.objects.get(username="clinician").failures_since_start == 1


def test_with_an_enrolment_code_they_enrol_and_can_do_nothing_else_until_done(
    required, superuser, clinician
):
    code = issue_code(superuser, clinician)
    client = Client()
    response = sign_in(client, "clinician", code=code.lower(), next="/patients/")
    assert response.url == reverse("two_factor_enrol")
    for name in ["home", "patients:list", "account", "password_change"]:
        assert client.get(reverse(name)).url == reverse("two_factor_enrol")
    assert client.get(reverse("healthz")).status_code == 200
    assert client.get(reverse("two_factor_enrol")).status_code == 200

    device = TOTPDevice.objects.get(user=clinician)
    client.post(reverse("two_factor_enrol"), {"code": code_for(device)})
    assert client.get(reverse("two_factor_recovery_codes")).status_code == 200
    assert client.get(reverse("patients:list")).status_code == 200
    actions = list(AccountEvent.objects.filter(user=clinician).values_list("action", flat=True))
    assert set(actions) >= {
        "enrolment_code_issued",
        "enrolment_code_used",
        "second_factor_enrolled",
    }


def test_an_enrolment_code_works_once_and_is_stored_as_a_digest(required, superuser, clinician):
    code = issue_code(superuser, clinician)
    stored = EnrolmentCode.objects.get(user=clinician)
    assert code.replace("-", "") not in str(EnrolmentCode.objects.values().get(pk=stored.pk))
    assert len(code.replace("-", "")) == 16  # 80 bits
    first = Client()
    assert sign_in(first, "clinician", code=code).url == reverse("two_factor_enrol")
    first.post(reverse("logout"))
    second = Client()
    assert sign_in(second, "clinician", code=code).status_code == 200
    assert not is_signed_in(second)


def test_an_enrolment_code_expires_and_a_new_one_withdraws_the_old(
    required, superuser, clinician, settings
):
    assert settings.TWO_FACTOR_ENROLMENT_HOURS == 72
    with time_machine.travel(T0, tick=False):
        old = issue_code(superuser, clinician)
        new = issue_code(superuser, clinician)
        assert sign_in(Client(), "clinician", code=old).status_code == 200
    with time_machine.travel("2026-11-29 09:00:01Z", tick=False):  # 72 h and a second
        assert sign_in(Client(), "clinician", code=new).status_code == 200
    assert not TOTPDevice.objects.filter(user=clinician).exists()


def test_a_wrong_password_and_the_right_one_without_its_code_look_the_same(
    required, clinician, enrolled
):
    """No password oracle: the same page, status and message until the code is given."""
    wrong = sign_in(Client(), "clinician", "not-the-password")
    right = sign_in(Client(), "clinician")
    right_bad_code = sign_in(Client(), "clinician", code="000000")
    assert wrong.status_code == right.status_code == right_bad_code.status_code == 200
    assert without_csrf(wrong) == without_csrf(right)
    assert right.context["form"].errors == wrong.context["form"].errors
    assert AccessAttempt.objects.get(username="clinician").failures_since_start == 3


def test_an_enrolment_code_cannot_stand_in_for_an_authenticator(
    required, superuser, clinician, enrolled
):
    boss = Client()
    boss.force_login(superuser)
    page = boss.post(reverse("account_action", args=[clinician.pk, "enrolment-code"]))
    assert page.url == reverse("account_list")  # refused: reset the second factor first
    assert not EnrolmentCode.objects.exists()


def test_signing_out_is_allowed_before_enrolment(required, superuser, clinician):
    client = Client()
    sign_in(client, "clinician", code=issue_code(superuser, clinician))
    assert is_signed_in(client)
    assert client.post(reverse("logout")).status_code == 302
    assert not is_signed_in(client)


def test_a_superuser_enrols_with_a_code_from_the_command_when_superusers_are_named(
    required, superuser
):
    assert sign_in(Client(), "root", "root-password-1").status_code == 200
    out = StringIO()
    call_command("enrolment_code", "root", stdout=out)
    code = out.getvalue().strip()
    assert sign_in(Client(), "root", "root-password-1", code=code).url == reverse(
        "two_factor_enrol"
    )


def test_roles_not_named_sign_in_with_the_password_alone(required, staff):
    client = Client()
    assert sign_in(client, "staff").url == reverse("home")
    assert client.get(reverse("patients:list")).status_code == 200


def test_a_required_role_with_an_authenticator_gives_password_and_code_together(
    required, clinician, enrolled
):
    client = Client()
    with time_machine.travel(T0, tick=False):
        response = sign_in(client, "clinician", code=code_for(enrolled))
        assert response.url == reverse("home")
        assert is_signed_in(client)


def test_a_superuser_resets_a_second_factor_and_it_is_recorded(
    as_user, superuser, clinician, enrolled
):
    response = as_user(superuser).post(
        reverse("account_action", args=[clinician.pk, "reset-second-factor"])
    )
    assert response.url == reverse("account_list")
    assert not TOTPDevice.objects.filter(user=clinician).exists()
    assert not StaticDevice.objects.filter(user=clinician).exists()
    event = AccountEvent.objects.get()
    assert (event.user, event.by, event.action) == (
        clinician,
        superuser,
        AccountEvent.Action.SECOND_FACTOR_RESET,
    )
    assert sign_in(Client(), "clinician").url == reverse("home")  # password alone again


def test_after_a_reset_a_required_role_enrols_again_with_a_new_code(
    required, superuser, clinician, enrolled
):
    boss = Client()
    boss.force_login(superuser)
    boss.post(reverse("account_action", args=[clinician.pk, "reset-second-factor"]))
    assert sign_in(Client(), "clinician").status_code == 200  # not enrolled by the password
    code = issue_code(superuser, clinician)
    assert sign_in(Client(), "clinician", code=code).url == reverse("two_factor_enrol")


def test_a_group_renamed_out_of_the_setting_no_longer_requires_it(required, clinician):
    Group.objects.filter(name=CLINICIANS).update(name="Clinicians (old)")
    assert sign_in(Client(), "clinician").url == reverse("home")


@pytest.mark.parametrize("code", ["x" * 41, "12\x0034", "ABCD-" * 20])
def test_a_code_that_is_no_code_fails_as_a_wrong_password_does(required, staff, code):
    """A code field error beside no "wrong password" error would confirm the password of
    someone who needs no code: such a code is simply refused, whoever signs in."""
    wrong = sign_in(Client(), "staff", "not-the-password", code=code)
    assert wrong.context["form"].errors == {
        "__all__": [wrong.context["form"].error_messages["invalid_login"]]
    }
    right = sign_in(Client(), "staff", code=code)  # staff need no code: the code is ignored
    assert right.url == reverse("home")


def test_a_code_typed_on_a_failed_sign_in_is_not_kept_by_the_throttle(required, clinician):
    sign_in(Client(), "clinician", "not-the-password", code="abcd2345")
    attempt = AccessAttempt.objects.get(username="clinician")
    assert "abcd2345" not in attempt.post_data
    assert "code=********************" in attempt.post_data


def test_deactivating_withdraws_an_unused_enrolment_code(required, superuser, clinician):
    code = issue_code(superuser, clinician)
    clinician.account.deactivate(by=superuser)
    clinician.account.reactivate(by=superuser)
    assert sign_in(Client(), "clinician", code=code).status_code == 200
    assert not EnrolmentCode.objects.exists()
