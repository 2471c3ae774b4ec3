from django import forms

from labelop.permissions import Role
from labelop.projects.models import Sensitivity

SENSITIVITY_HELP = {
    Sensitivity.STANDARD: "standard: assigned work only, views audited",
    Sensitivity.RESTRICTED: "restricted: plus review before release, 2FA, encrypted storage, "
                            "no external models",
    Sensitivity.LOCAL_ONLY: "local_only: plus local models and storage only, never export "
                            "originals",
}


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(max_length=5000, required=False, widget=forms.Textarea(
        attrs={"rows": 3}))
    sensitivity = forms.ChoiceField(
        choices=[(s.value, SENSITIVITY_HELP[s]) for s in Sensitivity],
        initial=Sensitivity.RESTRICTED.value, widget=forms.RadioSelect)


class MemberAddForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]+$", max_length=150)
    # The least-privileged role is the default: widening is a deliberate choice.
    role = forms.ChoiceField(choices=[(r.value, r.value) for r in Role],
                             initial=Role.ANNOTATOR.value)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=[(r.value, r.value) for r in Role])
