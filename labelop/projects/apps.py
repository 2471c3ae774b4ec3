from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "labelop.projects"
    label = "projects"
