"""Sign-in, second-factor and account forms."""

import re
from typing import Any, cast

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import Group, User
from django.contrib.auth.signals import user_login_failed
from django.core import validators
from django.views.decorators.debug import sensitive_variables

from clinic import two_factor
from clinic.models import EnrolmentCode
from clinic.roles import ROLE_PERMISSIONS
from clinic.throttling import serialised


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with django-axes' check and count made one step per
    (user name, address), and every odd user name refused as a wrong one would be. Where
    two-factor sign-in is required of any role, it asks for the code with the password
    (check_second_factor).

    Django's fields would answer a name over 150 characters or with a NUL character with
    their own messages, telling a stranger which names are worth trying; here such a name
    is simply a failed sign-in (clinic.throttling.username_key makes it storable).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enrolling = False  # signed in with an enrolment code: to enrolment, and only that
        if two_factor.in_force():
            # No limit or check of its own: a field error shown beside a missing "wrong
            # password" error would say the password was right (check_second_factor
            # refuses whatever is not a code).
            self.fields["code"] = forms.CharField(
                label="Code",
                required=False,
                help_text="From your authenticator app, or a recovery code. Setting up "
                "two-factor sign-in: the enrolment code you were given. Empty if you do "
                "not use two-factor sign-in.",
                widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
            )
            self.error_messages = {
                **self.error_messages,
                "invalid_login": "Please enter a correct user name, password and code. The "
                "user name and password may be case-sensitive.",
            }
        for name in ["username", "password", "code"]:
            if name not in self.fields:
                continue
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

    @sensitive_variables("password", "code")
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            assert self.request is not None, "django-axes throttles by request"
            with serialised(self.request, username):
                self.user_cache = authenticate(self.request, username=username, password=password)
                if self.user_cache is not None and "code" in self.fields:
                    self.check_second_factor(self.user_cache, username)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data

    @sensitive_variables("code")
    def check_second_factor(self, user: User, username: str) -> None:
        """Where two-factor sign-in is required of some role, the code is asked with the
        password: from the authenticator (or a recovery code) for someone enrolled; the
        one-time enrolment code for someone who must enrol and has not; nothing for the
        others. A missing or wrong code fails as a wrong password does, with the same
        answer, and counts as a failure with django-axes: the answer never says that the
        password was right."""
        code = "".join(str(self.cleaned_data.get("code") or "").split())
        if len(code) > MAX_CODE_LENGTH or "\x00" in code:
            code = ""  # no code of ours: refused below as a missing one
        if two_factor.is_enrolled(user):
            accepted = bool(CODE_PATTERN.fullmatch(code.lower())) and (
                two_factor.verify(user, code.lower()) is not None
            )
        elif two_factor.role_requires_it(user):
            accepted = bool(code) and EnrolmentCode.redeem(user, code)
            self.enrolling = accepted
        else:
            accepted = True
        if not accepted:
            self.user_cache = None
            user_login_failed.send(
                sender=__name__, credentials={"username": username}, request=self.request
            )


CODE_PATTERN = re.compile(r"[a-z0-9]{6,16}")
MAX_CODE_LENGTH = 40  # longer is no code of ours


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
