"""Import of release-check results from a CSV or XLSX file (`batches.imports`): upload,
preview every row with its pass/fail and errors, then import — one transaction through
the manual entry's service. The confirmed file travels back with the confirmation
(encoded in the page) and is judged again before anything is written."""

from __future__ import annotations

import base64
import binascii

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from batches import imports
from core.exceptions import DomainError

MAX_FILE_BYTES = 1_000_000


class ResultsFileForm(forms.Form):
    file = forms.FileField(
        label="Results file", help_text="CSV or XLSX; columns as in docs/results-import.md."
    )
    change_reason = forms.CharField(
        label="Reason for change",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Needed when the file changes a stored result (a correction).",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError("The file is larger than 1 MB: split it.")
        return upload


class ConfirmForm(forms.Form):
    name = forms.CharField(widget=forms.HiddenInput)
    content = forms.CharField(widget=forms.HiddenInput)
    checksum = forms.CharField(widget=forms.HiddenInput)
    change_reason = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_content(self):
        try:
            return base64.b64decode(self.cleaned_data["content"], validate=True)
        except (binascii.Error, ValueError):
            raise forms.ValidationError(
                "The confirmed file was damaged: upload it again."
            ) from None

    def clean(self):
        cleaned = super().clean()
        content = cleaned.get("content")
        if content is not None and imports.checksum(content) != cleaned.get("checksum"):
            raise forms.ValidationError("The confirmed file differs from the one previewed.")
        return cleaned


class ResultsImportAdmin:
    """`import-results/` on the batch admin."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "import-results/",
                self.admin_site.admin_view(self.import_results_view),
                name=f"{info[0]}_{info[1]}_import_results",
            )
        ]
        return own + super().get_urls()

    def import_results_view(self, request):
        user = request.user
        if not (
            user.has_perm("batches.add_releasecheck")
            and user.has_perm("batches.change_releasecheck")
        ):
            raise PermissionDenied
        preview = None
        confirm = None
        upload = ResultsFileForm()
        errors = []
        if request.method == "POST" and "confirm" in request.POST:
            confirm = ConfirmForm(request.POST)
            if confirm.is_valid():
                data = confirm.cleaned_data
                try:
                    preview = imports.preview(
                        data["name"], data["content"], user=user, reason=data["change_reason"]
                    )
                    saved = imports.import_results(
                        preview, actor=user, reason=data["change_reason"]
                    )
                except DomainError as error:
                    errors = error.messages
                else:
                    self.message_user(
                        request,
                        f"File “{data['name']}”: {len(saved)} result(s) recorded "
                        f"(SHA-256 {preview.checksum[:16]}…).",
                    )
                    for check in saved:
                        self.after_write(request, check)
                    return HttpResponseRedirect(reverse("admin:batches_batch_changelist"))
            else:
                errors = [e for errs in confirm.errors.values() for e in errs]
            confirm = None
        elif request.method == "POST":
            upload = ResultsFileForm(request.POST, request.FILES)
            if upload.is_valid():
                file = upload.cleaned_data["file"]
                content = file.read()
                reason = upload.cleaned_data["change_reason"]
                try:
                    preview = imports.preview(file.name, content, user=user, reason=reason)
                except DomainError as error:
                    errors = error.messages
                else:
                    if not preview.errors:
                        confirm = ConfirmForm(
                            initial={
                                "name": file.name,
                                "content": base64.b64encode(content).decode("ascii"),
                                "checksum": preview.checksum,
                                "change_reason": reason,
                            }
                        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import release-check results",
            "subtitle": None,
            "opts": self.opts,
            "upload": upload,
            "preview": preview,
            "confirm": confirm,
            "errors": errors,
        }
        return TemplateResponse(request, "admin/batches/batch/import_results.html", context)
