from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "labelop.releases"
    label = "releases"
