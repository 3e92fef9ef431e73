"""Sign-in, second-factor and account forms."""

import re
from typing import Any, cast

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import Group
from django.core import validators
from django.views.decorators.debug import sensitive_variables

from clinic.roles import ROLE_PERMISSIONS
from clinic.throttling import serialised


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with django-axes' check and count made one step per
    (user name, address), and every odd user name refused as a wrong one would be.

    Django's fields would answer a name over 150 characters or with a NUL character with
    their own messages, telling a stranger which names are worth trying; here such a name
    is simply a failed sign-in (clinic.throttling.username_key makes it storable).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ["username", "password"]:
            field = self.fields[name]
            field.validators = [
                v
                for v in field.validators
                if not isinstance(
                    v, validators.MaxLengthValidator | validators.ProhibitNullCharactersValidator
                )
            ]
        # Normalisation can lengthen a name past the field's limit; there is no limit here.
        cast(forms.CharField, self.fields["username"]).max_length = None

    @sensitive_variables("password")
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            assert self.request is not None, "django-axes throttles by request"
            with serialised(self.request, username):
                self.user_cache = authenticate(self.request, username=username, password=password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


CODE_PATTERN = re.compile(r"[a-z0-9]{6,16}")


class CodeForm(forms.Form):
    """A six-digit code from the authenticator app, or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=40,
        help_text="The six-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text"}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split()).lower()
        if not CODE_PATTERN.fullmatch(code):
            raise forms.ValidationError("That code is not right. Try the next code shown.")
        return code


class RoleForm(forms.Form):
    role = forms.ChoiceField(
        label="Role",
        choices=[("", "No role"), *((name, name) for name in ROLE_PERMISSIONS)],
        required=False,
    )

    def group(self) -> Group | None:
        name = self.cleaned_data["role"]
        return Group.objects.get(name=name) if name else None
