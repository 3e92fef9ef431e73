from django.urls import path

from patients import views

app_name = "patients"

urlpatterns = [
    path("", views.patient_list, name="list"),
    path("search/clear/", views.patient_search_clear, name="search_clear"),
    path("new/", views.patient_create, name="create"),
    path("<uuid:uuid>/", views.patient_detail, name="detail"),
    path("<uuid:uuid>/edit/", views.patient_edit, name="edit"),
    path("<uuid:uuid>/archive/", views.patient_archive, name="archive"),
    path("<uuid:uuid>/restore/", views.patient_restore, name="restore"),
    path("<uuid:uuid>/assessments/new/", views.assessment_create, name="assessment_create"),
    path("assessments/scores/", views.assessment_scores, name="assessment_scores"),
    path("assessments/<uuid:uuid>/", views.assessment_detail, name="assessment"),
    path("assessments/<uuid:uuid>/edit/", views.assessment_edit, name="assessment_edit"),
    path("<uuid:uuid>/summary/", views.patient_summary, name="summary"),
    path("<uuid:uuid>/followups/new/", views.followup_schedule, name="followup_schedule"),
    path("followups/<uuid:uuid>/", views.followup_record, name="followup_record"),
    path("followups/<uuid:uuid>/cancel/", views.followup_cancel, name="followup_cancel"),
    path("worklist/", views.worklist, name="worklist"),
]
