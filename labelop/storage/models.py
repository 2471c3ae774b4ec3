"""Storage locations: where a project's objects live, and who holds the key."""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db import models
from django.utils import timezone


class Encryption(StrEnum):
    NONE = "none"
    SERVER = "server"  # data keys wrapped by the instance key
    CUSTOMER = "customer"  # data keys wrapped by a key the customer holds (BYOK)


class StorageLocation(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16)  # a key of storage.backends.BACKENDS
    params = models.JSONField(default=dict)  # the backend's non-secret parameters
    # The secret parameters, encrypted with the instance key (storage.services.seal).
    sealed_secrets = models.TextField(blank=True)
    encryption = models.CharField(max_length=16, choices=[(e.value, e.value) for e in Encryption],
                                  default=Encryption.SERVER)
    # Customer mode: where the key is read from (env:NAME or file:/path) and its fingerprint.
    # The key itself is never stored.
    customer_key_source = models.CharField(max_length=500, blank=True)
    customer_key_fingerprint = models.CharField(max_length=64, blank=True)
    # While a customer key is being rotated: the new key's source and fingerprint. Readers
    # accept both keys until every data key is re-wrapped (a crash mid-way loses nothing).
    next_key_source = models.CharField(max_length=500, blank=True)
    next_key_fingerprint = models.CharField(max_length=64, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                    name="one_default_location"),
            models.CheckConstraint(
                condition=~models.Q(encryption="customer") | ~models.Q(customer_key_fingerprint=""),
                name="customer_mode_has_fingerprint"),
        ]

    def __str__(self) -> str:
        return self.name
