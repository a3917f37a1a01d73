import factory

from audit.context import Origin, audit_context


class AuditedFactory(factory.django.DjangoModelFactory):
    """Creates audited records as test set-up, attributed to the system."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
            return super()._create(model_class, *args, **kwargs)
