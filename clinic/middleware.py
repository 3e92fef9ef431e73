import time


class IdleTimeoutMiddleware:
    """Sign people out after SESSION_COOKIE_AGE without a request (30 minutes).

    Django's SESSION_SAVE_EVERY_REQUEST would do it with a database write on every page;
    this pushes the expiry on at most once a minute instead, so a session ends between
    29 and 30 idle minutes after its last request.
    """

    TOUCH_EVERY_SECONDS = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            now = int(time.time())
            if now - session.get("_touched", 0) >= self.TOUCH_EVERY_SECONDS:
                session["_touched"] = now  # modified, so saved with a new expiry
        return self.get_response(request)
