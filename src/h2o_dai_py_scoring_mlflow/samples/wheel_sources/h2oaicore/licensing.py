"""License checks, as the real runtime does them when a Scorer starts.

A license is URL-safe base64 of a 32-byte signature followed by a ``key:value`` text body. It is
looked up in DRIVERLESS_AI_LICENSE_KEY, then DRIVERLESS_AI_LICENSE_FILE, then
~/.driverlessai/license.sig. The key itself is never logged.
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import os

# Signs the demo licenses of synthetic exports only; it unlocks nothing else.
_SIGNING_KEY = b"h2oaicore-synthetic-export-demo-signature-v1"
_SIGNATURE_BYTES = 32
KEY_VARIABLE = "DRIVERLESS_AI_LICENSE_KEY"
FILE_VARIABLE = "DRIVERLESS_AI_LICENSE_FILE"
DEFAULT_FILE = os.path.join("~", ".driverlessai", "license.sig")


class LicenseError(RuntimeError):
    """No valid Driverless AI license was found."""


def encode_license(properties):
    """A license string for ``properties`` (an ordered mapping of text keys and values)."""
    body = "".join("%s:%s\n" % (key, value) for key, value in properties.items()).encode()
    signature = hmac.new(_SIGNING_KEY, body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(signature + body).decode("ascii")


def decode_license(text, today=None):
    """The license's properties; raises LicenseError when malformed, forged or expired."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise LicenseError("Invalid license (not a license key: bad encoding)") from None
    signature, body = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
    if len(signature) < _SIGNATURE_BYTES or not body:
        raise LicenseError("Invalid license (too short)")
    expected = hmac.new(_SIGNING_KEY, body, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise LicenseError("Invalid license (invalid signature)")
    properties = {}
    for line in body.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            properties[key.strip()] = value.strip()
    expiry = properties.get("expiration_date", "")
    try:
        expires = datetime.datetime.strptime(expiry, "%Y/%m/%d").date()
    except ValueError:
        raise LicenseError("Invalid license (no valid expiration_date)") from None
    if expires < (today or datetime.date.today()):
        raise LicenseError("License expired (on %s)" % expiry)
    return properties


def _candidates():
    key = os.environ.get(KEY_VARIABLE)
    if key:
        yield "environment variable %s" % KEY_VARIABLE, lambda: key
    path = os.environ.get(FILE_VARIABLE)
    if path:
        yield "license file %s (from %s)" % (path, FILE_VARIABLE), lambda: _read(path)
    default = os.path.expanduser(DEFAULT_FILE)
    yield "license file %s" % default, lambda: _read(default)


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise LicenseError("License file does not exist (%s)" % path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LicenseError("License file cannot be read (%s: %s)" % (path, exc)) from None


def check_license(log):
    """Find the first valid license; log its properties (never the key) or raise LicenseError."""
    log.info("License manager initialized")
    log.info("-" * 48)
    log.info("Checking whether we have a valid license...")
    errors = []
    for source, read in _candidates():
        try:
            properties = decode_license(read())
        except LicenseError as exc:
            errors.append("%s: %s" % (source, exc))
            continue
        log.info("License inherited from %s", source)
        for key in ("license_version", "licensee_organization", "license_type", "expiration_date"):
            log.info("%s:%s", key, properties.get(key, ""))
        log.info("License is valid")
        return properties
    message = (
        "No valid Driverless AI license found. Tried:\n  %s\n"
        "Set %s to the license key, or %s to the path of license.sig, "
        "or place license.sig in ~/.driverlessai/."
        % ("\n  ".join(errors), KEY_VARIABLE, FILE_VARIABLE)
    )
    log.error("!" * 60)
    log.error(message)
    raise LicenseError(message)
