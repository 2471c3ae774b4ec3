from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "labelop.jobs"
    label = "jobs"
