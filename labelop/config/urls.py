from django.urls import include, path

from labelop.core.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("labelop.core.urls")),
]

handler404 = "labelop.core.views.not_found"
handler500 = "labelop.core.views.server_error"
