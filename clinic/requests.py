from django.contrib.auth.models import User
from django.http import HttpRequest


class AuthenticatedRequest(HttpRequest):
    """The request every view but sign-in and the health probe gets: LoginRequiredMiddleware
    has already turned away anonymous users."""

    user: User
