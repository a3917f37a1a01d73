"""Serializers for site records, nested in the production and dosing API."""

from rest_framework import serializers

from sites.models import Facility


class FacilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Facility
        fields = ["fin", "name", "authorisation_ref"]
        extra_kwargs = {
            "name": {"help_text": "Name of the GMP facility."},
            "authorisation_ref": {"help_text": "GMP authorisation reference of the facility."},
        }
