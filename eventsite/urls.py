from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/", include("attendees.api.urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("door/", include("attendees.urls")),
    path("tickets/", include("attendees.ticket_urls")),
    # The door script's translations, for the language of the request.
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["attendees"]), name="javascript-catalog"),
]
