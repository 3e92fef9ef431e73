from django.contrib import admin
from django.urls import include, path

from clinic import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("sign-in/", views.sign_in, name="login"),
    path("sign-out/", views.sign_out, name="logout"),
    path("patients/", include("patients.urls")),
    path("guidance/", include("guidance.urls")),
    path("admin/", admin.site.urls),
]
