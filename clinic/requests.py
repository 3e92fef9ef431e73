from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class AuthenticatedRequest(HttpRequest):
    """The request every view but sign-in and the health probe gets: LoginRequiredMiddleware
    has already turned away anonymous users, and django-htmx's middleware says whether
    htmx sent it."""

    user: User
    htmx: HtmxDetails
