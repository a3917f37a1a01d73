from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render


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
