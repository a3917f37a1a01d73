"""core has no models. This module exists so that `migrate` sends core its post_migrate
signal, on which core creates the database cache's table (see core.apps)."""
