from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "labelop.storage"
    label = "storage"
