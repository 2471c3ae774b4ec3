from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from labelop.core.pages import PageView, form_errors
from labelop.storage import forms, selectors, services
from labelop.storage.models import StorageLocation


class LocationListView(PageView):
    def get(self, request: HttpRequest) -> HttpResponse:
        rows = [(loc, selectors.where(loc), selectors.key_holder(loc))
                for loc in selectors.location_list(actor=self.actor)]
        return render(request, "storage/locations.html",
                      {"rows": rows, "form": forms.LocationForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.LocationForm(request.POST)
        if not form.is_valid():
            form_errors(request, form)
            return HttpResponseRedirect("/storage")
        location = services.location_create(
            actor=self.actor, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"],
            params=form.params(), encryption=form.cleaned_data["encryption"],
            customer_key_source=form.cleaned_data["customer_key_source"],
            make_default=form.cleaned_data["default"])
        messages.success(request, f"{location.name} works (a test object was written, read "
                         "back and removed) and was added.")
        return HttpResponseRedirect("/storage")


class LocationCheckView(PageView):
    def return_to(self, **kwargs: Any) -> str:
        return "/storage"

    def post(self, request: HttpRequest, location_id: int) -> HttpResponse:
        selectors.location_list(actor=self.actor)  # site admins only
        location = StorageLocation.objects.filter(pk=location_id).first()
        if location is None:
            messages.error(request, "No such location.")
        else:
            services.location_check(location)
            messages.success(request, f"{location.name} works: a test object was written, "
                             "read back and removed.")
        return HttpResponseRedirect("/storage")
