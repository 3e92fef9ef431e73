"""Every view, every role: what product.md section 1 allows is served, the rest is 403."""

from datetime import date

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from guidance.models import Job, JobKind, Recommendation, Rule
from patients.invitations import Invitation
from patients.models import FollowUp
from tests.base import make_assessment, make_patient

# Roles are fetched by name inside the tests, so pytest-django cannot see the database
# use from the fixtures: say it, so these run with the other database tests.
pytestmark = pytest.mark.django_db

CLINICAL = {"clinician", "staff"}
CLINICIAN = {"clinician"}
GUIDANCE = {"guidance_admin"}
EVERYONE = {"clinician", "staff", "guidance_admin", "outsider"}
SUPERUSERS_ONLY: set[str] = set()

# (url name, method, takes a patient or an assessment, roles allowed)
MATRIX = [
    ("home", "get", False, EVERYONE),
    ("patients:list", "get", False, CLINICAL),
    ("patients:list", "post", False, CLINICAL),
    ("patients:search_clear", "post", False, CLINICAL),
    ("patients:create", "get", False, CLINICAL),
    ("patients:create", "post", False, CLINICAL),
    ("patients:detail", "get", True, CLINICAL),
    ("patients:edit", "get", True, CLINICAL),
    ("patients:edit", "post", True, CLINICAL),
    ("patients:archive", "get", True, CLINICAL),
    ("patients:archive", "post", True, CLINICAL),
    ("patients:restore", "post", True, CLINICAL),
    ("patients:assessment_create", "get", True, CLINICIAN),
    ("patients:assessment_create", "post", True, CLINICIAN),
    ("patients:assessment_create_live", "post", True, CLINICIAN),
    ("patients:assessment_scores", "post", False, CLINICAL),  # staff re-score at follow-ups
    ("patients:fhir_labs_upload", "get", True, CLINICIAN),
    ("patients:fhir_labs_upload", "post", True, CLINICIAN),
    ("patients:fhir_labs_confirm", "post", True, CLINICIAN),
    ("patients:fhir_export", "get", True, CLINICIAN),
    ("patients:assessment", "get", "assessment", CLINICAL),
    ("patients:assessment_edit", "get", "assessment", CLINICIAN),
    ("patients:assessment_edit", "post", "assessment", CLINICIAN),
    ("patients:assessment_edit_live", "post", "assessment", CLINICIAN),
    ("patients:summary", "get", True, CLINICAL),
    ("patients:followup_schedule", "get", True, CLINICAL),
    ("patients:followup_schedule", "post", True, CLINICAL),
    ("patients:followup_record", "get", "followup", CLINICAL),
    ("patients:followup_record", "post", "followup", CLINICAL),
    ("patients:followup_cancel", "get", "followup", CLINICAL),
    ("patients:followup_cancel", "post", "followup", CLINICAL),
    ("patients:followup_note", "post", "followup", CLINICAL),
    ("patients:worklist", "get", False, CLINICAL),
    ("guidance:decide", "post", "card", CLINICIAN),
    ("guidance:lifestyle", "post", "assessment", CLINICIAN),
    ("guidance:review", "get", False, CLINICIAN),
    ("guidance:rules", "get", False, GUIDANCE),
    ("guidance:rule_create", "get", False, GUIDANCE),
    ("guidance:rule_create", "post", False, GUIDANCE),
    ("guidance:rule", "get", "rule", GUIDANCE),
    ("guidance:rule_compare", "get", "rule code", GUIDANCE),
    ("guidance:rule_edit", "get", "rule", GUIDANCE),
    ("guidance:rule_edit", "post", "rule", GUIDANCE),
    ("guidance:rule_activate", "post", "rule", GUIDANCE),
    ("guidance:rule_retire", "get", "rule", GUIDANCE),
    ("guidance:rule_retire", "post", "rule", GUIDANCE),
    ("guidance:rule_preview", "post", "rule", GUIDANCE),
    ("guidance:job", "get", "job", GUIDANCE),
    ("guidance:governance", "get", False, GUIDANCE),
    ("guidance:governance", "post", False, GUIDANCE),
    ("guidance:governance_job", "get", "governance job", GUIDANCE),
    ("guidance:governance_csv", "get", "governance job", GUIDANCE),
    ("patients:invite", "get", True, CLINICAL),
    ("patients:invite", "post", True, CLINICAL),
    ("patients:invitation_action", "post", "invitation", CLINICAL),
    ("patients:invitation_link", "get", "invitation link", CLINICAL),
    ("patients:ehr_labs", "post", True, CLINICIAN),
    ("smart_patient", "get", False, CLINICAL),
    ("account", "get", False, EVERYONE),
    ("password_change", "get", False, EVERYONE),
    ("two_factor_enrol", "get", False, EVERYONE),
    ("account_list", "get", False, SUPERUSERS_ONLY),
    ("account_action", "post", "account", SUPERUSERS_ONLY),
]
PUBLIC = {"login", "healthz", "sign_in_code"}
# A patient's questionnaire link: no account, a token (tests/clinic/test_self_report.py).
PATIENT_LINK = {"selfreport:open", "selfreport:answer"}
# An EHR's SMART launch and its answer: nobody is signed in yet; the EHR vouches for the
# user (tests/interop/test_smart_launch.py).
EHR_LAUNCH = {"smart_launch", "smart_callback"}
# Shown once after enrolment, else back to the account page (tests/clinic/test_two_factor.py).
SIGNED_IN_ANY_ROLE = {"logout", "two_factor_recovery_codes"}
# Called by EHRs, not people: a signed JWT is their only way in (tests/interop/test_auth.py).
EHR_ONLY = {"cds_discovery", "cds_service", "cds_feedback"}


def url_for(name, takes):
    author = User.objects.get_or_create(username="author")[0]
    if takes == "assessment":
        return reverse(name, args=[make_assessment(make_patient(), author).uuid])
    if takes == "card":
        assessment = make_assessment(make_patient(), author)
        rule = Rule.objects.active().first()
        card = Recommendation.objects.create(assessment=assessment, rule=rule, rule_code=rule.code)
        return reverse(name, args=[card.uuid])
    if takes == "followup":
        followup = FollowUp.objects.create(
            patient=make_patient(), due_date=date(2026, 11, 26), scheduled_by=author
        )
        return reverse(name, args=[followup.uuid])
    if takes == "invitation link":
        invitation, _ = Invitation.make(patient=make_patient(), questionnaires=["gad7"], by=author)
        return reverse(name, args=[invitation.uuid])
    if takes == "invitation":
        invitation, _ = Invitation.make(patient=make_patient(), questionnaires=["gad7"], by=author)
        return reverse(name, args=[invitation.uuid, "revoke"])
    if takes == "account":
        return reverse(name, args=[author.pk, "deactivate"])
    if takes == "rule code":
        return reverse(name, args=["IRON-STUDIES"])
    if takes == "rule":
        rule = Rule.objects.get(code="IRON-STUDIES", version=1)
        return reverse(name, args=[rule.code, rule.version])
    if takes == "job":
        rule = Rule.objects.get(code="IRON-STUDIES", version=1)
        job = Job.objects.create(kind=JobKind.PREVIEW, rule=rule, requested_by=author)
        return reverse(name, args=[job.uuid])
    if takes == "governance job":
        job = Job.objects.create(
            kind=JobKind.GOVERNANCE,
            requested_by=author,
            parameters={"since": "2026-09-01", "until": "2026-11-26"},
            finished_at=timezone.now(),
            result={"since": "2026-09-01", "until": "2026-11-26", "days": 87, "rows": []},
        )
        return reverse(name, args=[job.uuid])
    return reverse(name, args=[make_patient().uuid] if takes else [])


def all_url_names(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue  # the admin checks its own permissions; tested below
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from all_url_names(entry, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + entry.name


def test_the_matrix_covers_every_named_view():
    covered = {name for name, *_ in MATRIX} | PUBLIC | SIGNED_IN_ANY_ROLE | EHR_ONLY
    covered |= PATIENT_LINK | EHR_LAUNCH
    assert set(all_url_names()) - covered == set()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "takes_patient", "allowed"), MATRIX)
def test_anonymous_is_sent_to_sign_in(client, name, method, takes_patient, allowed):
    url = url_for(name, takes_patient)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert_not_stored(response)


def assert_not_stored(response):
    """Nothing behind sign-in may be kept by a browser or a proxy (NoStoreMiddleware)."""
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= directives, response["Cache-Control"]


@pytest.mark.parametrize("role", sorted(EVERYONE))
@pytest.mark.parametrize(("name", "method", "takes_patient", "allowed"), MATRIX)
def test_each_role_gets_what_it_may_and_403_otherwise(
    request, as_user, role, name, method, takes_patient, allowed
):
    client = as_user(request.getfixturevalue(role))
    response = getattr(client, method)(url_for(name, takes_patient))
    if role in allowed:
        assert response.status_code in (200, 302)
    else:
        assert response.status_code == 403
    assert_not_stored(response)


@pytest.mark.parametrize(("name", "method", "takes_patient", "allowed"), MATRIX)
def test_a_superuser_is_served_every_page_uncached(
    as_user, superuser, name, method, takes_patient, allowed
):
    response = getattr(as_user(superuser), method)(url_for(name, takes_patient))
    assert response.status_code in (200, 302, 403)
    assert_not_stored(response)


@pytest.mark.parametrize("name", sorted(PUBLIC | SIGNED_IN_ANY_ROLE | EHR_LAUNCH))
def test_the_public_and_any_role_pages_are_uncached_too(as_user, clinician, name):
    args = [1] if name == "smart_callback" else []  # an EHR's own answer address
    response = as_user(clinician).get(reverse(name, args=args))
    assert_not_stored(response)


def test_static_files_keep_their_own_caching(settings):
    """WhiteNoise serves them before the no-store middleware: no patient data in them.
    (Served from the app's folders here, as no collectstatic runs before the tests.)"""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    response = Client().get("/static/css/app.css")  # a new client: WhiteNoise set up anew
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


@pytest.mark.django_db
def test_sign_in_and_health_probe_are_public(client):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200


def test_only_superusers_can_browse_the_access_log(as_user, clinician, superuser):
    url = reverse("admin:patients_patientaccess_changelist")
    clinician.is_staff = True  # even with admin access, the log is not for other roles
    clinician.save()
    assert as_user(clinician).get(url).status_code == 403
    assert as_user(superuser).get(url).status_code == 200


@pytest.mark.parametrize("role", sorted(EVERYONE))
def test_no_role_reaches_the_admin(request, as_user, role):
    response = as_user(request.getfixturevalue(role)).get(reverse("admin:index"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("role", ["guidance_admin", "outsider"])
def test_navigation_hides_patients_from_roles_without_them(request, as_user, role):
    page = as_user(request.getfixturevalue(role)).get(reverse("home")).content.decode()
    assert reverse("patients:list") not in page


@pytest.mark.parametrize("role", sorted(CLINICAL))
def test_navigation_shows_patients_to_clinical_roles(request, as_user, role):
    page = as_user(request.getfixturevalue(role)).get(reverse("home")).content.decode()
    assert reverse("patients:list") in page
    assert reverse("patients:create") in page


@pytest.mark.parametrize("role", ["clinician", "staff", "outsider"])
def test_navigation_shows_rules_only_to_guidance_admins(request, as_user, role, guidance_admin):
    rules = reverse("guidance:rules")
    assert rules in as_user(guidance_admin).get(reverse("home")).content.decode()
    assert rules not in as_user(request.getfixturevalue(role)).get(reverse("home")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(PATIENT_LINK))
def test_the_patient_link_pages_need_no_account_and_are_uncached(client, name):
    url = reverse(name, args=["x" * 43]) if name == "selfreport:open" else reverse(name)
    response = client.get(url)
    assert response.status_code == 200  # no such link, or no link opened in this session
    page = response.content.decode()
    assert "This link cannot be used" in page or "Open your link again" in page
    assert_not_stored(response)
