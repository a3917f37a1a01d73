from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render


def requires(*perms: str):
    """A page for users with every one of `perms`: anonymous → the login page, signed in
    without them → 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@login_required
def home(request):
    """Send each role to where its work is."""
    user = request.user
    groups = set(user.groups.values_list("name", flat=True))
    if "pharmacy" in groups:
        return redirect("/pharmacy/")
    if "clinician" in groups:
        return redirect("/clinic/")
    if user.is_staff:
        return redirect("admin:index")
    return render(request, "core/home.html", {"groups": sorted(groups)})
