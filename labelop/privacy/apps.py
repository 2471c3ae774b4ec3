from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "labelop.privacy"
    label = "privacy"
