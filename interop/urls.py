"""The CDS Hooks endpoints, at the paths the specification fixes (/cds-services...)."""

from django.urls import URLPattern, path

from interop import views

urlpatterns: list[URLPattern] = [
    path("cds-services", views.discovery, name="cds_discovery"),
    path("cds-services/<str:service_id>", views.service, name="cds_service"),
    path("cds-services/<str:service_id>/feedback", views.service_feedback, name="cds_feedback"),
]
