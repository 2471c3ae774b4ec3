from django import forms

from labelop.storage.models import Encryption


class LocationForm(forms.Form):
    name = forms.RegexField(regex=r"^[\w.-]+$", max_length=100)
    kind = forms.ChoiceField(choices=[("local", "A directory on this server"),
                                      ("s3", "An S3-compatible bucket")])
    path = forms.CharField(required=False, max_length=1000, help_text="local: absolute path")
    endpoint_url = forms.URLField(required=False, assume_scheme="https",
                                  help_text="s3: empty for AWS")
    bucket = forms.CharField(required=False, max_length=255)
    key_prefix = forms.CharField(required=False, max_length=500)  # not "prefix": a Form attribute
    region = forms.CharField(required=False, max_length=50)
    access_key_id = forms.CharField(required=False, max_length=255)
    secret_access_key = forms.CharField(required=False, max_length=255,
                                        widget=forms.PasswordInput)
    encryption = forms.ChoiceField(choices=[
        (Encryption.SERVER.value, "server: data keys wrapped by this instance's key"),
        (Encryption.CUSTOMER.value, "customer: data keys wrapped by a key you hold"),
        (Encryption.NONE.value, "none: stored as plain files")], initial=Encryption.SERVER.value)
    customer_key_source = forms.CharField(required=False, max_length=500,
                                          help_text="customer: env:VARIABLE or file:/path")
    default = forms.BooleanField(required=False)

    def params(self) -> dict:
        data = self.cleaned_data
        if data["kind"] == "local":
            return {"path": data["path"]}
        params = {k: data[k] for k in ("endpoint_url", "bucket", "region", "access_key_id",
                                       "secret_access_key")}
        return {**params, "prefix": data["key_prefix"]}
