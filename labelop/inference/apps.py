from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "labelop.inference"
    label = "inference"
