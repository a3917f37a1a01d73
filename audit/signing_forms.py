"""What every e-signature form shares: the authenticator code when it is needed, and the
credential check that counts failures (`audit.signatures.verify_signer`).

A signing form is a `forms.Form` with a `password` field and this mixin first:

    class SignForm(SignatureFormMixin, forms.Form):
        password = forms.CharField(widget=forms.PasswordInput(...))

    form = SignForm(request.POST or None, user=request.user, request=request)

The mixin adds an `otp_code` field when this is the session's first signature by a user
whose role logs in with two factors, and validates password and code with
`verify_signer` — outside any transaction, so a refused attempt stays on the audit trail
and counts towards the block. `otp_code` is taken out of `cleaned_data`: the services
receive the same keyword arguments as before (the password is checked again by `sign()`,
and the session no longer needs the code once it was given).
"""

from __future__ import annotations

from django import forms

from audit.signatures import SignatureError, signature_needs_code, verify_signer

OTP_FIELD = "otp_code"


def otp_code_field() -> forms.CharField:
    return forms.CharField(
        label="Code from your authenticator app",
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="The first signature of a session needs the 6-digit code of your "
        "authenticator app as well as your password; later ones only the password.",
    )


class SignatureFormMixin:
    password_field = "password"

    def __init__(self, *args, user=None, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request
        self.session = getattr(request, "session", None)
        if signature_needs_code(user, self.session):
            self.fields[OTP_FIELD] = otp_code_field()

    def clean(self):
        cleaned = super().clean()
        code = cleaned.pop(OTP_FIELD, "")
        password = cleaned.get(self.password_field)
        if password is None or (OTP_FIELD in self.fields and OTP_FIELD in self.errors):
            return cleaned  # a field is missing: its own error says so
        try:
            verify_signer(self.user, password, otp_code=code, session=self.session)
        except SignatureError as error:
            field = error.field if error.field in self.fields else self.password_field
            self.add_error(field, str(error))
        return cleaned
