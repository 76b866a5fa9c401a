"""Forms: they parse input; every decision is made in :mod:`django_authy2fa.flows`."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Method


class CodeForm(forms.Form):
    method = forms.ChoiceField(choices=Method.choices, widget=forms.HiddenInput)
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )
    trust_browser = forms.BooleanField(label=_("Trust this browser"), required=False)


class SendForm(forms.Form):
    channel = forms.ChoiceField(
        choices=[(Method.SMS, _("Text message")), (Method.CALL, _("Voice call"))]
    )


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile phone number"),
        max_length=32,
        help_text=_("Include the country code, e.g. +1 415 555 2671."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    channel = forms.ChoiceField(
        label=_("Send the code by"),
        choices=[(Method.SMS, _("Text message")), (Method.CALL, _("Voice call"))],
        initial=Method.SMS,
    )


class ConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class StepUpForm(forms.Form):
    password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    method = forms.ChoiceField(label=_("Second factor"), choices=Method.choices)
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )
