"""Middleware a site might place between Django's AuthenticationMiddleware and this app's."""


class KeepsEarlyUser:
    """Keeps the request's user as it was before TwoFactorMiddleware ran (a logging or audit
    middleware might do this), to check what such a reference sees afterwards."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.early_user = request.user
        return self.get_response(request)


class LoadsEarlyUser(KeepsEarlyUser):
    """The same, having read the user already (Django's lazy object is loaded)."""

    def __call__(self, request):
        _ = request.user.is_authenticated
        return super().__call__(request)


class SignedOutView:
    """Puts a lazy user of its own that always answers "not signed in", as a kiosk or
    read-only mode might: what it says of itself must survive this app's middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils.functional import SimpleLazyObject

        class AlwaysSignedOut(SimpleLazyObject):
            is_authenticated = False

        request.user = AlwaysSignedOut(lambda: request.__dict__["early_user"])
        return self.get_response(request)
