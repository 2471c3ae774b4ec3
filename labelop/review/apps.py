from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "labelop.review"
    label = "review"
