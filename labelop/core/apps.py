from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "labelop.core"
    label = "core"
