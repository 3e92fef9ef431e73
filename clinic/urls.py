from django.contrib import admin
from django.urls import include, path

from clinic.views import (
    accounts,
    assessments,
    fhir,
    followups,
    governance,
    home,
    invitations,
    patients,
    rules,
    selfreport,
    smart,
)

# The namespaces ("patients:", "guidance:") name the screens' subjects; every view lives
# in clinic.views, by object.
patient_urls = [
    path("", patients.patient_list, name="list"),
    path("search/clear/", patients.patient_search_clear, name="search_clear"),
    path("new/", patients.patient_create, name="create"),
    path("<uuid:uuid>/", patients.patient_detail, name="detail"),
    path("<uuid:uuid>/edit/", patients.patient_edit, name="edit"),
    path("<uuid:uuid>/archive/", patients.patient_archive, name="archive"),
    path("<uuid:uuid>/restore/", patients.patient_restore, name="restore"),
    path("<uuid:uuid>/summary/", patients.patient_summary, name="summary"),
    path("<uuid:uuid>/invite/", invitations.invite, name="invite"),
    path("invitations/<uuid:uuid>/link/", invitations.invitation_link, name="invitation_link"),
    path(
        "invitations/<uuid:uuid>/<slug:action>/",
        invitations.invitation_action,
        name="invitation_action",
    ),
    path("<uuid:uuid>/assessments/new/", assessments.assessment_create, name="assessment_create"),
    path(
        "<uuid:uuid>/assessments/new/live/",
        assessments.assessment_create_live,
        name="assessment_create_live",
    ),
    path(
        "<uuid:uuid>/assessments/new/fhir-labs/",
        fhir.assessment_labs_upload,
        name="fhir_labs_upload",
    ),
    path(
        "<uuid:uuid>/assessments/new/fhir-labs/confirm/",
        fhir.assessment_labs_confirm,
        name="fhir_labs_confirm",
    ),
    path("<uuid:uuid>/assessments/new/ehr-labs/", smart.ehr_labs, name="ehr_labs"),
    path("<uuid:uuid>/fhir/", fhir.patient_fhir_export, name="fhir_export"),
    path("assessments/scores/", assessments.assessment_scores, name="assessment_scores"),
    path("assessments/<uuid:uuid>/", assessments.assessment_detail, name="assessment"),
    path("assessments/<uuid:uuid>/edit/", assessments.assessment_edit, name="assessment_edit"),
    path(
        "assessments/<uuid:uuid>/edit/live/",
        assessments.assessment_edit_live,
        name="assessment_edit_live",
    ),
    path("<uuid:uuid>/followups/new/", followups.followup_schedule, name="followup_schedule"),
    path("followups/<uuid:uuid>/", followups.followup_record, name="followup_record"),
    path("followups/<uuid:uuid>/cancel/", followups.followup_cancel, name="followup_cancel"),
    path("followups/<uuid:uuid>/note/", followups.followup_note, name="followup_note"),
    path("worklist/", followups.worklist, name="worklist"),
]

guidance_urls = [
    path("cards/<uuid:uuid>/decide/", assessments.card_decide, name="decide"),
    path("assessments/<uuid:uuid>/lifestyle/", assessments.lifestyle_decide, name="lifestyle"),
    path("review/", assessments.awaiting_review, name="review"),
    path("rules/", rules.rule_list, name="rules"),
    path("rules/new/", rules.rule_create, name="rule_create"),
    path("rules/governance/", governance.governance, name="governance"),
    path("rules/governance/<uuid:uuid>/", governance.governance_job, name="governance_job"),
    path("rules/governance/<uuid:uuid>/csv/", governance.governance_csv, name="governance_csv"),
    path("rules/jobs/<uuid:uuid>/", rules.job_status, name="job"),
    path("rules/<str:code>/compare/", rules.rule_compare, name="rule_compare"),
    path("rules/<str:code>/v<int:version>/", rules.rule_detail, name="rule"),
    path("rules/<str:code>/v<int:version>/edit/", rules.rule_edit, name="rule_edit"),
    path("rules/<str:code>/v<int:version>/activate/", rules.rule_activate, name="rule_activate"),
    path("rules/<str:code>/v<int:version>/retire/", rules.rule_retire, name="rule_retire"),
    path("rules/<str:code>/v<int:version>/preview/", rules.rule_preview, name="rule_preview"),
]

# The patient's questionnaire link (anonymous): the address with the token, then one without.
selfreport_urls = [
    path("answer/", selfreport.answer, name="answer"),
    path("<str:token>/", selfreport.open_link, name="open"),
]

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", home.healthz, name="healthz"),
    path("sign-in/", accounts.sign_in, name="login"),
    path("sign-in/code/", accounts.sign_in_code, name="sign_in_code"),
    path("sign-out/", accounts.sign_out, name="logout"),
    path("account/", accounts.account, name="account"),
    path("account/password/", accounts.password_change, name="password_change"),
    path("account/two-factor/", accounts.two_factor_enrol, name="two_factor_enrol"),
    path(
        "account/two-factor/recovery-codes/",
        accounts.two_factor_recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path("accounts/", accounts.account_list, name="account_list"),
    path("accounts/<int:pk>/<slug:action>/", accounts.account_action, name="account_action"),
    path("patients/", include((patient_urls, "patients"))),
    path("guidance/", include((guidance_urls, "guidance"))),
    path("r/", include((selfreport_urls, "selfreport"))),
    # SMART App Launch: from an EHR (or standalone), its answer, and an unmatched patient.
    path("smart/launch/", smart.launch, name="smart_launch"),
    path("smart/callback/<int:ehr>/", smart.callback, name="smart_callback"),
    path("smart/patient/", smart.ehr_patient, name="smart_patient"),
    path("", include("interop.urls")),
    path("admin/login/", accounts.admin_sign_in),  # before the admin's own sign-in page
    path("admin/", admin.site.urls),
]
