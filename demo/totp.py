"""The demo users' authenticator secrets: fixed, printed, for a local trial ONLY.

Anyone who reads this file can make these users' codes; production databases never get
them (the demo loader is the only code that uses them).
"""

import hashlib
from base64 import b32decode, b32encode

DEMO_TOTP_SECRETS = {
    "production": "DEMOPRODUCTIONONLYCELLTRACK22222",
    "qp": "DEMOQPONLYCELLTRACKQUALIFIED2222",
    "clinician": "DEMOCLINICIANONLYCELLTRACK222222",
}


def key_hex(secret: str) -> str:
    """A base32 secret (as authenticator apps take it) as django-otp's hex key."""
    return b32decode(secret).hex()


def demo_totp_secret(username: str) -> str:
    """The demo secret of a two-factor demo user: the fixed one of the plain role names,
    else derived from the username (stable from run to run, printed by `seed_demo`)."""
    if username in DEMO_TOTP_SECRETS:
        return DEMO_TOTP_SECRETS[username]
    digest = hashlib.sha256(f"celltrack-demo-totp:{username}".encode()).digest()
    return b32encode(digest[:20]).decode()
