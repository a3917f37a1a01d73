from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from audit import account_views
from core import views as core_views

admin.site.site_header = "CellTrack production"
admin.site.site_title = "CellTrack"
admin.site.index_title = "Production records"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", account_views.two_factor_verify, name="two-factor"),
    path("accounts/two-factor/setup/", account_views.two_factor_setup, name="two-factor-setup"),
    path("admin/", admin.site.urls),
    path("pharmacy/patients/", include("patients.urls")),
    path("pharmacy/dose/<int:pk>/sheet.pdf", include("labels.sheet_urls")),
    path("pharmacy/", include("dosing.urls")),
    path("labels/", include("labels.urls")),
    path("clinic/", include("dosing.clinic_urls")),
    path("clinic/", include("patients.clinic_urls")),
    # FHIR first: the API's catch-all below answers every other path under /api/.
    path("api/fhir/", include("vigilance.fhir.urls")),
    path("reports/", include("reports.urls")),
    path("vigilance/", include("vigilance.urls")),
    path("api/", include("config.api")),
]

# A lost database connection → a 503 "try again" page (JSON under /api/), logged.
handler500 = "core.errors.server_error"
