from django.contrib import admin

from clinic.forms.accounts import AdminSignInForm
from clinic.models import FailedSignIn

admin.site.site_header = "Kratom RLS clinic: administration"
admin.site.login_form = AdminSignInForm


@admin.register(FailedSignIn)
class FailedSignInAdmin(admin.ModelAdmin[FailedSignIn]):
    list_display = ["username", "address", "at"]
    search_fields = ["username"]
    date_hierarchy = "at"
