"""The CDS Hooks endpoints, at the paths the specification fixes (/cds-services...)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
