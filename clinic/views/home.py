import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    """The landing page after sign-in: the way into what this user's role may do."""
    return render(request, "clinic/home.html")


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Health probe for the load balancer: 200 when the database answers, else 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health probe: database unavailable")
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")
