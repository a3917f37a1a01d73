"""The suite's password hasher: Django's PBKDF2 at one iteration.

The default PBKDF2 costs a third of a second per password on this machine, and the suite
hashes and checks hundreds (every demo seed makes 25 users and signs 6 decisions with a
password). Django's docs advise a faster hasher for tests; this one keeps the algorithm's
name, so a hash made here is still read by the production hasher list — the gunicorn
and second-server tests, which run the application in another process with its own
settings, log the same users in (and upgrade the hash there, as Django does when the
iteration count is below its own).
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class OneIterationPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1
