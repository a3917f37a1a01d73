"""The base of the API's model serializers: their fields worked out once per class.

DRF's `ModelSerializer.get_fields()` works the fields out from the model on every
serializer it makes — reading the model's fields (`get_field_info`), mapping each to a
serializer field with its kwargs (label, help text, validators) and constructing it —
and a request makes several (a batch's page: the batch, its facility, procurement,
checks, specification items and signature). Profiling a batch's page and a page of the
audit trail showed that work at about a tenth of the request.

What it works out depends only on the class (its `Meta` and declared fields, the model),
never on the instance, its data or its context, so `ModelSerializer` here keeps the
unbound fields of the first call per class and gives every serializer a deep copy of
them: the same copy DRF makes of declared fields (`Field.__deepcopy__` constructs each
field anew from its arguments), so nothing bound to a request or a parent is shared. A
serializer whose fields depend on its instance or its context (none does) must not use it.
"""

import copy

from rest_framework import serializers

_PROTOTYPE = "_celltrack_field_prototype"


class ModelSerializer(serializers.ModelSerializer):
    def get_fields(self):
        cls = type(self)
        prototype = cls.__dict__.get(_PROTOTYPE)
        if prototype is None:
            prototype = super().get_fields()
            setattr(cls, _PROTOTYPE, prototype)
        return copy.deepcopy(prototype)
