"""The demo users' authenticator secrets: fixed, printed, for a local trial ONLY.

Anyone who reads this file can make these users' codes; production databases never get
them (the demo loader is the only code that uses them).
"""

from base64 import b32decode

DEMO_TOTP_SECRETS = {
    "production": "DEMOPRODUCTIONONLYCELLTRACK22222",
    "qp": "DEMOQPONLYCELLTRACKQUALIFIED2222",
    "clinician": "DEMOCLINICIANONLYCELLTRACK222222",
}


def key_hex(secret: str) -> str:
    """A base32 secret (as authenticator apps take it) as django-otp's hex key."""
    return b32decode(secret).hex()
