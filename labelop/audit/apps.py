from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "labelop.audit"
    label = "audit"
