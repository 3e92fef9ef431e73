"""`manage.py enrolment_code USERNAME`: a one-time code with which the user, whose role
requires two-factor sign-in, signs in once to set up an authenticator. For the first
superuser, who has nobody to issue one on the account review page; afterwards superusers
issue them there. The code is printed once and stored as a digest."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clinic import two_factor
from clinic.models import EnrolmentCode


class Command(BaseCommand):
    help = "Issue a one-time two-factor enrolment code for a user (printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: object, username: str, **options: object) -> None:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        if two_factor.is_enrolled(user):
            raise CommandError(f"{username} already has an authenticator: reset it first.")
        # Issued from the server's shell: recorded as issued by the user themselves.
        code = EnrolmentCode.issue(user, by=user)
        self.stdout.write(code)
