from audit.context import Origin, audit_origin


def origin_for_path(path: str) -> str:
    if path.startswith("/admin/"):
        return Origin.ADMIN
    if path.startswith("/api/"):
        return Origin.API
    return Origin.FORM


class AuditOriginMiddleware:
    """Records which interface a request's audited writes came through."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit_origin(origin_for_path(request.path)):
            return self.get_response(request)
