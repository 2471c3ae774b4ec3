from django import forms


class LoginForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(max_length=1024, widget=forms.PasswordInput)
    otp = forms.CharField(max_length=32, required=False)


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(max_length=1024, widget=forms.PasswordInput)
    new_password = forms.CharField(max_length=1024, widget=forms.PasswordInput,
                                   help_text="At least 12 characters, not a common password.")
    repeat_password = forms.CharField(max_length=1024, widget=forms.PasswordInput)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("new_password") != data.get("repeat_password"):
            raise forms.ValidationError("The two new passwords differ.")
        return data


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    project = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                     help_text="Limit the token to one project.")
    expires_in_days = forms.IntegerField(min_value=1, max_value=3650, required=False,
                                         help_text="Default: 90 days.")


class UserCreateForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]+$", max_length=150)
    site_admin = forms.BooleanField(required=False)
