"""Forms of the demo page. They parse input; the library's flows do the rest."""

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError

from django_authy2fa.exceptions import InvalidPhoneNumber
from django_authy2fa.phone import PhoneNumber, parse_phone


class RegisterForm(forms.Form):
    """The tutorial's left-hand form: account, password and phone in one step."""

    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    phone = forms.CharField(
        label="Mobile phone",
        max_length=32,
        help_text="With the country code, e.g. +1 415 555 2671.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )
    password = forms.CharField(
        strip=False,
        help_text="At least 8 characters; not a common password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
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
        password = cleaned.get("password")
        if password:
            user = get_user_model()(
                username=cleaned.get("username", ""), email=cleaned.get("email", "")
            )
            try:
                password_validation.validate_password(password, user)
            except ValidationError as err:
                self.add_error("password", err)
        return cleaned


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=10,
        min_length=6,
        help_text="The 6-digit code sent to your phone.",
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9]*",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )
