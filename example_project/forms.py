from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError

from django_authy2fa.exceptions import InvalidPhoneNumber
from django_authy2fa.phone import PhoneNumber, parse_phone


class RegisterForm(forms.Form):
    """The tutorial's left-hand form: account, password and phone in one step."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput, strip=False)
    phone = forms.CharField(
        max_length=32, help_text="Mobile number with country code, e.g. +1 415 555 0123"
    )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model()._default_manager.filter(username__iexact=username).exists():
            raise ValidationError("That username is taken.")
        return username

    def clean_phone(self) -> PhoneNumber:
        try:
            return parse_phone(self.cleaned_data["phone"])
        except InvalidPhoneNumber as err:
            raise ValidationError(err.message) from err

    def clean(self) -> dict:
        cleaned = super().clean()
        if "password" in cleaned:
            user = get_user_model()(
                username=cleaned.get("username", ""), email=cleaned.get("email", "")
            )
            password_validation.validate_password(cleaned["password"], user)
        return cleaned


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=10,
        min_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
