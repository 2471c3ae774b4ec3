from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "labelop.annotations"
    label = "annotations"
