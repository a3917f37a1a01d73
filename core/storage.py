"""Static files: whitenoise's compressed, hashed names where `collectstatic` ran.

`make serve` collects the static files (the admin's, the API docs', CellTrack's) into
STATIC_ROOT, and whitenoise serves them with far-future caching under hashed names, so
the admin and /api/docs/ work with DEBUG off. Where nothing was collected — a fresh clone
running the tests — there is no manifest, and names stay as written instead of failing
every template that uses `{% static %}`.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class CollectedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name):
        if not self.hashed_files:  # no manifest: collectstatic has not run here
            return name
        try:
            return super().stored_name(name)
        except ValueError:  # a file added since the last collectstatic
            return name
