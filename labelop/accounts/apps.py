from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "labelop.accounts"
    label = "accounts"
