from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "labelop.assets"
    label = "assets"
