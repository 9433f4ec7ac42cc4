"""Remote inputs: download an https (or http) URL once, verifying an optional checksum."""

import hashlib
import logging
import urllib.error
import urllib.request

from ..errors import InputError
from ..io import atomic_path

log = logging.getLogger(__name__)
CHUNK = 1 << 20


def is_url(value):
    return value.startswith(("https://", "http://"))


def fetch(url, out_path, checksum=None, timeout=60):
    """Download `url` to `out_path`; `checksum` is 'sha256:<hex>' (or 'md5:<hex>').

    An unreachable URL or a checksum mismatch is an InputError; nothing is left at `out_path`.
    """
    algorithm, expected = checksum.split(":", 1) if checksum else ("sha256", None)
    if algorithm not in ("sha256", "md5"):
        raise InputError(url, f"unknown checksum type {algorithm!r} (use sha256:<hex> or md5:<hex>)")
    digest = hashlib.new(algorithm)
    with atomic_path(out_path) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as handle:
                while block := response.read(CHUNK):
                    digest.update(block)
                    handle.write(block)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise InputError(url, f"could not download: {reason}") from None
        if expected and digest.hexdigest() != expected.lower():
            raise InputError(url, f"{algorithm} checksum mismatch: expected {expected}, got {digest.hexdigest()}")
    log.info("fetched %s (%s %s)", url, algorithm, digest.hexdigest())
    return digest.hexdigest()


def index_vcf_stage(vcf_path, index_path):
    """Tabix-index a bgzipped VCF once, so per-chromosome jobs read only their region."""
    import pysam

    with atomic_path(index_path) as tmp:
        try:
            pysam.tabix_index(str(vcf_path), preset="vcf", force=True, index=str(tmp), keep_original=True)
        except (OSError, ValueError) as error:
            raise InputError(vcf_path, f"cannot index ({error}); it must be bgzip-compressed") from None
