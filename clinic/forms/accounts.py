"""The sign-in forms, throttled."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from clinic.models import FailedSignIn

# What the throttle records of a user name. A longer name (no account has one: Django's
# limit is 150) is a failed sign-in like any other, recorded by its first 150 characters;
# lower-casing can lengthen a name ("İ" becomes "i" and a combining dot).
RECORDED_USERNAME_LENGTH = FailedSignIn._meta.get_field("username").max_length or 150


class SignInForm(AuthenticationForm):
    """Django's sign-in form, refusing further tries after repeated failures."""

    def clean(self) -> Any:
        username = (self.cleaned_data.get("username") or "").lower()[:RECORDED_USERNAME_LENGTH]
        address = self.request.META.get("REMOTE_ADDR") if self.request else None
        if FailedSignIn.objects.is_throttled(username=username, address=address):
            raise forms.ValidationError(
                "Too many failed sign-ins. Wait %(minutes)d minutes and try again, "
                "or ask an administrator to reset your password.",
                code="throttled",
                params={"minutes": settings.SIGNIN_LOCKOUT_MINUTES},
            )
        try:
            cleaned_data = super().clean()
        except forms.ValidationError:
            FailedSignIn.objects.create(username=username, address=address)
            raise
        FailedSignIn.objects.filter(username=username).delete()
        return cleaned_data


class AdminSignInForm(SignInForm, AdminAuthenticationForm):
    """The admin's sign-in form, throttled like the main one (otherwise it is a side door)."""
