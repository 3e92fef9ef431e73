"""SMART App Launch (issue 25): an EHR opens the application on its patient, its user
signed in as the mapped account. Against a test EHR served over real HTTP on 127.0.0.1
(tests/interop/smart_server.py): real discovery, authorization, PKCE, token exchange,
id_token signature and FHIR reads. Each refusal is checked by what it leaves: nobody
signed in, no patient's record opened, nothing in the access log."""

import base64
import hashlib
import json
import logging
import time
from urllib.parse import parse_qs, quote, urlsplit

import jwt
import pytest
import requests
from django.contrib.auth import SESSION_KEY

from clinic import sessions
from clinic.roles import CLINICIANS
from interop.models import SmartEhr, SmartUser
from patients.models import Assessment, Patient, PatientAccess
from tests.base import PASSWORD
from tests.interop.ehr import MRN_SYSTEM, ec_key
from tests.interop.smart_server import (
    CLIENT_ID,
    FHIR_USER,
    RawAnswer,
    ferritin,
    new_key,
    patient_resource,
    running_ehr,
)


@pytest.fixture
def server(db, clinician):
    """The test EHR, registered for launch, its Practitioner mapped to the clinician."""
    with running_ehr(user=clinician) as state:
        yield state


def begin(client, server, **params):
    """The EHR opens the launch URL; the browser goes on to the EHR's authorization
    endpoint, which approves at once and sends it back with a code and the state."""
    params = {"iss": server.iss, "launch": "launch-123", **params}
    started = client.get("/smart/launch/", {key: v for key, v in params.items() if v})
    assert started.status_code == 302, started.content
    approved = requests.get(started["Location"], allow_redirects=False, timeout=5)
    assert approved.status_code == 302, approved.status_code
    back = urlsplit(approved.headers["Location"])
    assert back.path == f"/smart/callback/{SmartEhr.objects.get(iss=server.iss).pk}/"
    return back.path + "?" + back.query


def launch(client, server, **params):
    return client.get(begin(client, server, **params))


def signed_in(client):
    return client.session.get(SESSION_KEY)


def assert_refused(client, response, seeded, words):
    """Refused with a page that says why; nobody signed in; no record opened."""
    assert response.status_code == (400 if "started in this browser" in words else 403)
    assert words in response.content.decode()
    assert signed_in(client) is None
    assert sessions.SMART_LAUNCH not in client.session
    assert not PatientAccess.objects.exists()
    page = client.get(seeded.patient.get_absolute_url())
    assert page.status_code == 302
    assert page["Location"].startswith("/sign-in/")


def test_an_ehr_launch_signs_the_mapped_clinician_in_on_the_patients_page(
    client, server, seeded, clinician
):
    response = launch(client, server)
    patient = seeded.patient
    assert response.status_code == 302
    assert response["Location"] == patient.get_absolute_url()
    assert int(signed_in(client)) == clinician.pk
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert patient.mrn in page.content.decode()
    # What was asked of the EHR: the code flow with PKCE S256, a state, this launch, the
    # FHIR server as audience, and the scopes of an EHR launch.
    asked = server.authorize_requests[0]
    assert asked["response_type"] == "code"
    assert asked["code_challenge_method"] == "S256"
    assert asked["launch"] == "launch-123"
    assert asked["aud"] == server.iss
    assert len(asked["state"]) >= 32
    assert asked["scope"].split() == [
        "launch",
        "openid",
        "fhirUser",
        "patient/Patient.rs",
        "patient/Observation.rs",
    ]
    # The verifier sent with the code is the one whose S256 the challenge was.
    verifier = server.token_requests[0]["code_verifier"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert digest.decode() == asked["code_challenge"]
    # The launch is in the access log, with the EHR user it was for.
    launched = PatientAccess.objects.get(view="smart:launch")
    assert (launched.user, launched.patient, launched.ehr_user) == (clinician, patient, FHIR_USER)


def test_a_standalone_launch_asks_the_ehr_to_choose_the_patient(client, server, seeded):
    response = launch(client, server, launch="")
    assert response["Location"] == seeded.patient.get_absolute_url()
    asked = server.authorize_requests[0]
    assert "launch" not in asked
    assert asked["scope"].split()[0] == "launch/patient"


def test_without_an_issuer_the_registered_ehrs_are_offered(client, server):
    page = client.get("/smart/launch/")
    assert page.status_code == 200
    assert "Test EHR" in page.content.decode()
    assert not server.authorize_requests


def test_no_token_reaches_a_url_a_page_or_a_log(client, server, seeded, caplog):
    caplog.set_level(logging.DEBUG)
    callback = begin(client, server)
    response = client.get(callback)
    page = client.get(response["Location"])
    (token,) = server.tokens
    for text in [callback, response["Location"], page.content.decode(), caplog.text]:
        assert token not in text
    assert "code_verifier" not in caplog.text
    # The access log row names the EHR user, not a token.
    assert token not in str(PatientAccess.objects.values())


def test_a_confidential_client_authenticates_with_its_secret(
    client, server, seeded, clinician, monkeypatch
):
    monkeypatch.setenv("TEST_EHR_SECRET", "the-secret-value")
    SmartEhr.objects.update(credential_env="TEST_EHR_SECRET")
    server.secret = "the-secret-value"
    response = launch(client, server)
    assert response["Location"] == seeded.patient.get_absolute_url()
    assert int(signed_in(client)) == clinician.pk
    server.secret = "another-secret"  # the EHR no longer knows this client: refused
    PatientAccess.objects.all().delete()
    other = client.__class__()
    assert_refused(other, launch(other, server), seeded, "invalid_client")


def test_a_confidential_client_authenticates_with_its_private_key(
    client, server, seeded, clinician, monkeypatch
):
    key = new_key()
    private = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key)) | {"alg": "RS384"}
    monkeypatch.setenv("TEST_EHR_KEY", json.dumps(private))
    SmartEhr.objects.update(credential_env="TEST_EHR_KEY")
    server.client_key = key.public_key()
    response = launch(client, server)
    assert response["Location"] == seeded.patient.get_absolute_url()
    assert int(signed_in(client)) == clinician.pk
    assert "client_secret" not in server.token_requests[0]
    server.client_key = new_key().public_key()  # the EHR holds another key: refused
    PatientAccess.objects.all().delete()
    other = client.__class__()
    assert_refused(other, launch(other, server), seeded, "invalid_client")


# Refusals


def test_a_wrong_state_is_refused(client, server, seeded):
    callback = begin(client, server)
    forged = callback.replace("state=", "state=x")
    assert_refused(client, client.get(forged), seeded, "not for a launch started in this browser")
    assert not server.token_requests  # the code was never even exchanged


def test_an_answer_in_another_browser_is_refused(client, server, seeded, django_user_model):
    callback = begin(client, server)
    other = client.__class__()
    response = other.get(callback)
    assert_refused(other, response, seeded, "not for a launch started in this browser")


def test_an_unknown_issuer_is_refused_before_anything_is_fetched(client, server, seeded):
    response = client.get("/smart/launch/", {"iss": "https://evil.example.org/fhir", "launch": "1"})
    assert_refused(client, response, seeded, "not registered")
    assert not server.authorize_requests


def test_a_removed_ehr_is_refused(client, server, seeded):
    SmartEhr.objects.update(active=False)
    response = client.get("/smart/launch/", {"iss": server.iss, "launch": "1"})
    assert_refused(client, response, seeded, "not registered")


def test_a_replayed_code_is_refused(client, server, seeded):
    callback = begin(client, server)
    assert client.get(callback).status_code == 302  # the first use signs in
    PatientAccess.objects.all().delete()
    # The same answer again, in another browser: its state is not that browser's.
    again = client.__class__()
    assert_refused(again, again.get(callback), seeded, "not for a launch started in this browser")
    # The same code under a fresh launch's state: the EHR refuses a code used once.
    fresh = client.__class__()
    new_callback = begin(fresh, server)
    old_code = parse_qs(urlsplit(callback).query)["code"][0]
    new_state = parse_qs(urlsplit(new_callback).query)["state"][0]
    replayed = fresh.get(f"{urlsplit(callback).path}?code={old_code}&state={new_state}")
    assert_refused(fresh, replayed, seeded, "The EHR refused the sign-in (invalid_grant)")


def test_an_expired_id_token_is_refused(client, server, seeded):
    now = int(time.time())
    server.claims = {"iat": now - 3600, "exp": now - 600}
    assert_refused(client, launch(client, server), seeded, "id_token has expired")


def test_an_id_token_signed_by_another_key_is_refused(client, server, seeded):
    server.signing_key = new_key()
    assert_refused(client, launch(client, server), seeded, "could not be verified")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-app"},
        {"iss": "https://other-issuer.example.org"},
        {"nonce": "not-this-launchs"},
    ],
    ids=["audience", "issuer", "nonce"],
)
def test_an_id_token_for_another_client_issuer_or_launch_is_refused(client, server, seeded, claims):
    server.claims = claims
    assert_refused(client, launch(client, server), seeded, "id_token")


def test_an_unmapped_ehr_user_is_refused_and_given_no_account(
    client, server, seeded, django_user_model
):
    server.fhir_user = "Practitioner/someone-else"
    users = django_user_model.objects.count()
    assert_refused(client, launch(client, server), seeded, "not linked to an account")
    assert django_user_model.objects.count() == users


def test_a_mapped_account_that_lost_its_clinical_role_is_refused(client, server, seeded, clinician):
    clinician.groups.clear()
    assert_refused(client, launch(client, server), seeded, "not linked to an account")
    clinician.groups.add(clinician.groups.model.objects.get(name=CLINICIANS))
    clinician.is_active = False
    clinician.save()
    assert_refused(client.__class__(), launch(client.__class__(), server), seeded, "not linked")


@pytest.mark.parametrize(
    "granted",
    ["launch openid fhirUser patient/Observation.rs", "launch patient/Patient.rs fhirUser"],
    ids=["no Patient read", "no openid"],
)
def test_a_scope_not_granted_is_refused(client, server, seeded, granted):
    server.granted = granted
    assert_refused(client, launch(client, server), seeded, "did not grant")


def test_the_ehr_saying_no_is_refused(client, server, seeded):
    callback = begin(client, server)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    response = client.get(f"{urlsplit(callback).path}?error=access_denied&state={state}")
    assert_refused(client, response, seeded, "did not authorize")


def test_an_unmatched_patient_opens_no_record_and_says_so(client, server, seeded, clinician):
    # Our record number, but another birth date: not our patient.
    server.patient = patient_resource(birth_date="1990-01-01")
    response = launch(client, server)
    assert response["Location"] == "/smart/patient/"
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "not one of this clinic's patients" in text
    assert "Register the patient" in text
    assert "from a FHIR file" in text  # the lab pre-fill, once they are registered
    assert seeded.patient.family_name not in text
    assert not PatientAccess.objects.exists()  # no record of ours was opened
    assert_no_labs_read(client, seeded.patient, server)


# Two-factor sign-in


def test_a_role_that_needs_a_second_factor_gives_its_code_after_the_launch(
    client, server, seeded, clinician, settings
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.TWO_FACTOR_REQUIRED_ROLES = frozenset({CLINICIANS})
    TOTPDevice.objects.create(user=clinician, name="app", confirmed=True)
    response = launch(client, server)
    assert response["Location"] == "/sign-in/code/"
    assert signed_in(client) is None  # not until the code
    assert client.session[sessions.PENDING_SIGN_IN]["next"] == seeded.patient.get_absolute_url()
    # Unless the setting says the EHR's sign-in counts.
    settings.SMART_SIGN_IN_COUNTS_AS_TWO_FACTOR = True
    other = client.__class__()
    assert launch(other, server)["Location"] == seeded.patient.get_absolute_url()
    assert int(signed_in(other)) == clinician.pk


def test_a_role_that_needs_a_second_factor_not_set_up_is_refused(client, server, seeded, settings):
    settings.TWO_FACTOR_REQUIRED_ROLES = frozenset({CLINICIANS})
    assert_refused(client, launch(client, server), seeded, "second factor")


# Labs from the EHR


def test_the_launch_pre_fills_labs_from_the_ehr_for_its_patient_only(client, server, seeded):
    server.observations = [ferritin(31.0), ferritin(5.0, subject="Patient/someone-else")]
    launch(client, server)
    patient = seeded.patient
    form = client.get(f"/patients/{patient.uuid}/assessments/new/")
    assert "Pre-fill labs from Test EHR" in form.content.decode()
    read = client.post(f"/patients/{patient.uuid}/assessments/new/ehr-labs/")
    assert read.status_code == 200
    found = read.context["found"]
    assert {name: lab.value for name, lab in found.labs.items()} == {"ferritin_ng_ml": 31.0}
    assert any("subject" in refusal for refusal in found.refusals)
    assert Assessment.objects.filter(patient=patient).count() == 1  # nothing saved
    (token,) = server.tokens
    assert token not in read.content.decode()


def test_without_an_observation_scope_no_labs_are_read(client, server, seeded):
    server.granted = "launch openid fhirUser patient/Patient.rs"
    launch(client, server)
    patient = seeded.patient
    form = client.get(f"/patients/{patient.uuid}/assessments/new/")
    assert "Pre-fill labs from Test EHR" not in form.content.decode()
    assert_no_labs_read(client, patient, server)


def assert_no_labs_read(client, patient, server):
    """Asked for labs from the EHR without a launch on this patient that may read them:
    sent to the FHIR file upload instead, and nothing asked of the EHR."""
    server.observations = [ferritin(31.0)]
    tokens_used = len(server.tokens)
    response = client.post(f"/patients/{patient.uuid}/assessments/new/ehr-labs/")
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.uuid}/assessments/new/fhir-labs/"
    assert len(server.tokens) == tokens_used
    assert not server.observation_reads


def test_an_overlong_launch_id_is_refused_before_anything_is_fetched(client, server, seeded):
    response = client.get("/smart/launch/", {"iss": server.iss, "launch": "x" * 5000})
    assert_refused(client, response, seeded, "not one the application can use")
    assert not server.authorize_requests


def test_a_launch_signs_out_whoever_else_was_signed_in_in_this_browser(
    as_user, server, seeded, staff, clinician
):
    browser = as_user(staff)
    response = launch(browser, server)
    assert response["Location"] == seeded.patient.get_absolute_url()
    assert int(signed_in(browser)) == clinician.pk  # the EHR's user, not the one before


# After a hostile review


@pytest.fixture
def second_server(db):
    """Another registered EHR: in the mix-up attack, the malicious one."""
    with running_ehr(name="Other EHR") as state:
        yield state


def test_an_answer_at_another_ehrs_address_is_refused_and_no_code_is_exchanged(
    client, server, second_server, seeded
):
    """The mix-up attack: a launch sent to one EHR, answered at another's address (the
    honest EHR's code for the malicious EHR's launch). Each EHR has its own address."""
    callback = begin(client, second_server)
    honest = SmartEhr.objects.get(iss=server.iss)
    query = urlsplit(callback).query
    response = client.get(f"/smart/callback/{honest.pk}/?{query}")
    assert_refused(client, response, seeded, "another EHR than the launch")
    assert not server.token_requests
    assert not second_server.token_requests


def test_an_answer_naming_another_issuer_is_refused(client, server, seeded):
    """RFC 9207: where the EHR names its issuer in the answer, it must be the launch's."""
    callback = begin(client, server)
    response = client.get(f"{callback}&iss=https://evil.example.org")
    assert_refused(client, response, seeded, "another EHR than the launch")
    assert not server.token_requests


def test_a_launch_waiting_for_its_code_is_not_anyone_elses(
    client, server, seeded, clinician, staff, settings
):
    """A launch left at the code page, then someone else signs in with a password in the
    same browser: the launch (its access token) is not theirs, and nothing was logged."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.TWO_FACTOR_REQUIRED_ROLES = frozenset({CLINICIANS})
    TOTPDevice.objects.create(user=clinician, name="app", confirmed=True)
    server.observations = [ferritin(31.0)]
    assert launch(client, server)["Location"] == "/sign-in/code/"
    assert not PatientAccess.objects.exists()  # not until the code is given
    signed = client.post("/sign-in/", {"username": staff.username, "password": PASSWORD})
    assert signed.status_code == 302
    assert int(signed_in(client)) == staff.pk
    assert sessions.SMART_LAUNCH not in client.session
    assert sessions.PENDING_SIGN_IN not in client.session  # nor the clinician's pending code
    assert client.get("/smart/patient/").templates[0].name == "smart/no_launch.html"
    assert not server.observation_reads


def test_the_launch_is_logged_once_the_code_is_given(client, server, seeded, clinician, settings):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.TWO_FACTOR_REQUIRED_ROLES = frozenset({CLINICIANS})
    device = TOTPDevice.objects.create(user=clinician, name="app", confirmed=True)
    launch(client, server)
    code = str(totp(device.bin_key)).zfill(6)
    response = client.post("/sign-in/code/", {"code": code})
    assert response["Location"] == seeded.patient.get_absolute_url()
    assert int(signed_in(client)) == clinician.pk
    assert PatientAccess.objects.get(view="smart:launch").ehr_user == FHIR_USER
    assert client.session[sessions.SMART_LAUNCH]["user"] == clinician.pk


def test_someone_who_set_up_a_second_factor_gives_it_as_after_a_password(
    client, server, seeded, clinician, settings
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.TWO_FACTOR_REQUIRED_ROLES = frozenset({"Staff"})  # not the clinician's role
    TOTPDevice.objects.create(user=clinician, name="app", confirmed=True)
    assert launch(client, server)["Location"] == "/sign-in/code/"
    assert signed_in(client) is None


def test_a_token_endpoint_that_redirects_is_refused_and_not_followed(client, server, seeded):
    with running_ehr(name=None) as elsewhere:
        server.token_redirect = f"{elsewhere.base}/auth/token"
        assert_refused(client, launch(client, server), seeded, "answered with a redirect")
        assert not elsewhere.token_requests


@pytest.mark.parametrize("lifetime", ["Infinity", '"soon"', "[1]"])
def test_a_token_answer_with_an_unreadable_lifetime_is_refused_not_an_error(
    client, server, seeded, lifetime
):
    server.raw_expires_in = lifetime
    assert_refused(client, launch(client, server), seeded, "did not answer properly")


@pytest.mark.parametrize(("lifetime", "kept"), [("null", 300), ('"600"', 600), ("86400", 3600)])
def test_the_access_token_is_kept_for_its_lifetime_within_an_hour(
    client, server, seeded, lifetime, kept
):
    server.raw_expires_in = lifetime
    launch(client, server)
    expires_at = client.session[sessions.SMART_LAUNCH]["expires_at"]
    assert kept - 5 <= expires_at - time.time() <= kept


def test_an_id_token_signed_with_rs384_by_a_key_that_names_no_algorithm(client, server, seeded):
    server.algorithm = "RS384"
    server.key_alg = None  # as many EHRs publish their keys
    assert launch(client, server)["Location"] == seeded.patient.get_absolute_url()


def test_an_ehr_user_mapped_twice_signs_in_as_nobody(client, server, seeded, staff):
    SmartUser.objects.create(
        ehr=SmartEhr.objects.get(iss=server.iss), fhir_user=f"{server.iss}/{FHIR_USER}", user=staff
    )
    server.fhir_user = f"{server.iss}/{FHIR_USER}"
    assert_refused(client, launch(client, server), seeded, "not linked to an account")


def test_an_unmatched_patient_is_registered_from_the_ehr_and_then_gets_its_labs(
    client, server, seeded, clinician
):
    """No match: the registration is filled in from the EHR's Patient; once saved, the new
    record matches the launch, and a new assessment's labs come from the EHR."""
    server.patient = patient_resource(mrn="RLS-0999", birth_date="1975-06-30")
    server.patient["gender"] = "male"
    server.observations = [ferritin(64.0)]
    assert launch(client, server)["Location"] == "/smart/patient/"
    form = client.get("/patients/new/?from=launch").context["form"]
    assert form.initial == {
        "mrn": "RLS-0999",
        "date_of_birth": "1975-06-30",
        "sex": "male",
        "family_name": "Example",
        "given_name": "Pat",
    }
    saved = client.post("/patients/new/", {**form.initial, "phone": "", "email": "", "notes": ""})
    assert saved.status_code == 302
    patient = Patient.objects.get(mrn="RLS-0999")
    assert client.get("/smart/patient/")["Location"] == patient.get_absolute_url()
    read = client.post(f"/patients/{patient.uuid}/assessments/new/ehr-labs/")
    assert {name: lab.value for name, lab in read.context["found"].labs.items()} == {
        "ferritin_ng_ml": 64.0
    }
    assert seeded.patient.mrn != "RLS-0999"


def test_the_registration_is_not_filled_in_without_a_launch(client, clinician, as_user):
    browser = as_user(clinician)
    assert browser.get("/patients/new/?from=launch").context["form"].initial == {}


# An EHR that misbehaves: refused with words, never an error page, nobody signed in


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"authorization_endpoint": "http://ehr.example.org/authorize"}, "lacks an https"),
        ({"token_endpoint": None}, "lacks an https"),
        ({"code_challenge_methods_supported": ["plain"]}, "PKCE with S256"),
    ],
    ids=["plain http", "no token endpoint", "no S256"],
)
def test_a_configuration_without_https_or_pkce_is_refused(client, server, seeded, config, words):
    server.config_changes = config
    response = client.get("/smart/launch/", {"iss": server.iss, "launch": "1"})
    assert_refused(client, response, seeded, words)
    assert not server.authorize_requests


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ((500, {"error": "down"}), "refused to give its SMART configuration (500)"),
        ((200, RawAnswer(b"<html>", {})), "is not a JSON object"),
        ((200, ["a", "list"]), "is not a JSON object"),
        ((200, RawAnswer(b'"' + b"x" * (6 * 1024 * 1024) + b'"', {})), "is too large"),
    ],
    ids=["500", "not JSON", "a list", "6 MB"],
)
def test_an_unreadable_configuration_is_refused(client, server, seeded, answer, words):
    server.config_answer = answer
    response = client.get("/smart/launch/", {"iss": server.iss, "launch": "1"})
    assert_refused(client, response, seeded, words)


def test_an_ehr_that_does_not_answer_is_refused(client, seeded, db):
    SmartEhr.objects.create(
        iss="http://127.0.0.1:9/fhir", name="Gone", client_id=CLIENT_ID, mrn_system=MRN_SYSTEM
    )
    response = client.get("/smart/launch/", {"iss": "http://127.0.0.1:9/fhir", "launch": "1"})
    assert_refused(client, response, seeded, "did not answer")


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ({"access_token": None}, "no bearer access token"),
        ({"token_type": "mac"}, "no bearer access token"),
        ({"scope": None}, "did not grant"),
        ({"patient": None}, "did not say which patient"),
        ({"patient": "../Patient/1"}, "did not say which patient"),
        ({"id_token": None}, "carries no id_token"),
        ({"id_token": "not-a-jwt"}, "could not be verified"),
        (
            {"id_token": jwt.encode({"sub": "x"}, "a-shared-secret-of-32-bytes-at-least!")},
            "could not",
        ),
    ],
    ids=["no token", "not bearer", "no scope", "no patient", "a path", "no id", "garbage", "HS256"],
)
def test_a_token_answer_missing_what_a_launch_needs_is_refused(
    client, server, seeded, token, words
):
    server.token_changes = token
    assert_refused(client, launch(client, server), seeded, words)


def test_an_id_token_without_fhir_user_or_for_several_audiences_is_refused(client, server, seeded):
    server.fhir_user = ""
    assert_refused(client, launch(client, server), seeded, "who the user is")
    server.fhir_user = FHIR_USER
    server.claims = {"aud": [CLIENT_ID, "another-app"]}  # and no azp naming us
    other = client.__class__()
    assert_refused(other, launch(other, server), seeded, "not for this application (azp)")
    server.claims = {"aud": [CLIENT_ID, "another-app"], "azp": CLIENT_ID}
    assert launch(other, server)["Location"] == seeded.patient.get_absolute_url()


def test_a_patient_other_than_the_launchs_is_refused(client, server, seeded):
    server.patient_answer = {**server.patient, "id": "someone-else"}
    assert_refused(client, launch(client, server), seeded, "a record other than the launch")


def test_an_answer_too_late_without_a_code_or_for_a_removed_ehr_is_refused(
    client, server, seeded, monkeypatch
):
    callback = begin(client, server)
    monkeypatch.setattr("interop.smart.PENDING_SECONDS", -1)
    assert_refused(client, client.get(callback), seeded, "took too long")
    monkeypatch.undo()
    callback = begin(client, server)
    no_code = callback.replace("code=", "cod=")
    assert_refused(client, client.get(no_code), seeded, "no authorization code")
    callback = begin(client, server)
    SmartEhr.objects.update(active=False)
    assert_refused(client, client.get(callback), seeded, "no longer registered")
    assert not server.token_requests


def test_a_lab_search_the_ehr_cannot_answer_is_refused_and_nothing_is_filled(
    client, server, seeded, clinician
):
    launch(client, server)
    patient = seeded.patient
    server.search_answer = {"resourceType": "OperationOutcome"}
    response = client.post(f"/patients/{patient.uuid}/assessments/new/ehr-labs/")
    assert response.status_code == 502
    assert "not a Bundle" in response.content.decode()
    assert "Nothing was filled in" in response.content.decode()
    assert int(signed_in(client)) == clinician.pk  # still signed in: only the read failed
    server.search_answer = {"resourceType": "Bundle", "type": "searchset"}
    empty = client.post(f"/patients/{patient.uuid}/assessments/new/ehr-labs/")
    assert empty.context["found"].notes == [
        "The EHR has no ferritin, transferrin saturation, creatinine or weight."
    ]
    assert empty.context["confirm"] is None


def test_an_expired_launch_is_forgotten(client, server, seeded):
    server.observations = [ferritin(31.0)]
    launch(client, server)
    session = client.session
    session[sessions.SMART_LAUNCH] = {**session[sessions.SMART_LAUNCH], "expires_at": 1}
    session.save()
    assert_no_labs_read(client, seeded.patient, server)
    assert sessions.SMART_LAUNCH not in client.session


# After a second hostile review


def test_the_ehrs_key_is_found_whatever_else_its_key_set_lists_first(client, server, seeded):
    ec = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key().public_key()))
    server.other_keys = [{**ec, "kid": "ehr-key-1", "use": "sig"}]  # same kid, another type
    assert launch(client, server)["Location"] == seeded.patient.get_absolute_url()


@pytest.mark.parametrize(
    "answer",
    [RawAnswer(b"[" * 100_000, {}), RawAnswer(b'{"pad": "' + b"x" * 6_000_000 + b'"}', {})],
    ids=["nested too deep", "6 MB"],
)
def test_a_token_answer_too_deep_or_too_large_is_refused_not_an_error(
    client, server, seeded, answer
):
    server.token_answer = answer
    response = launch(client, server)
    assert_refused(client, response, seeded, "token endpoint")


def test_a_configuration_nested_too_deep_is_refused_not_an_error(client, server, seeded):
    server.config_answer = (200, RawAnswer(b"[" * 100_000, {}))
    response = client.get("/smart/launch/", {"iss": server.iss, "launch": "1"})
    assert_refused(client, response, seeded, "not a JSON object")


def test_a_refused_launch_leaves_nobody_signed_in_not_even_who_was_before(
    as_user, server, seeded, staff
):
    browser = as_user(staff)
    server.fhir_user = "Practitioner/someone-else"
    response = launch(browser, server)
    assert_refused(browser, response, seeded, "not linked to an account")


def test_a_new_launch_ends_the_last_one_even_when_refused(client, server, seeded):
    server.patient = patient_resource(mrn="RLS-0999", birth_date="1975-06-30")
    launch(client, server)
    assert client.get("/patients/new/?from=launch").context["form"].initial["mrn"] == "RLS-0999"
    server.granted = "launch openid fhirUser"  # the next launch is refused
    launch(client, server)
    assert sessions.SMART_LAUNCH not in client.session


def test_an_ehr_name_of_odd_shape_fills_in_what_it_can(client, server, seeded):
    server.patient = {**patient_resource(mrn="RLS-0999"), "name": [{"given": [1, None, "Jo"]}]}
    launch(client, server)
    initial = client.get("/patients/new/?from=launch").context["form"].initial
    assert initial["given_name"] == "Jo"
    assert "family_name" not in initial


def test_an_ehr_that_names_itself_in_answers_must_name_itself_in_each(client, server, seeded):
    server.names_itself = True
    server.config_changes = {"authorization_response_iss_parameter_supported": True}
    assert launch(client, server)["Location"] == seeded.patient.get_absolute_url()
    PatientAccess.objects.all().delete()
    other = client.__class__()
    callback = begin(other, server)
    without_iss = callback.replace(f"&iss={quote(server.iss, safe='')}", "")
    assert without_iss != callback
    assert_refused(other, other.get(without_iss), seeded, "another EHR than the launch")


def test_an_id_token_authorised_for_another_party_is_refused(client, server, seeded):
    server.claims = {"azp": "another-app"}
    assert_refused(client, launch(client, server), seeded, "not for this application (azp)")


def test_a_good_configuration_is_read_once_for_several_launches(client, server, seeded):
    for _ in range(3):
        assert launch(client.__class__(), server).status_code == 302
    assert server.configuration_reads == 1
    assert len(server.token_requests) == 3


def test_a_configuration_found_wanting_is_read_again_at_the_next_launch(client, server, seeded):
    server.config_changes = {"code_challenge_methods_supported": ["plain"]}
    client.get("/smart/launch/", {"iss": server.iss, "launch": "1"})
    server.config_changes = {}  # the EHR is put right
    assert launch(client, server)["Location"] == seeded.patient.get_absolute_url()
    assert server.configuration_reads == 2
