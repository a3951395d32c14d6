"""Downloading raw files with checksums (used by sources whose data is not shipped in a wheel, e.g. ZINC250k)."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RemoteFile", "fetch", "sha256_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteFile:
    """A public file: its name, mirror URLs (tried in order) and pinned SHA-256 (``None``: not pinned,
    the observed digest is logged and recorded in the processed cache instead)."""

    name: str
    urls: tuple[str, ...]
    sha256: str | None = None


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(remote: RemoteFile, folder: str | Path, sha256: str | None = None, timeout: float = 60.0,
          config_key: str = "dataset.source.path") -> Path:
    """Path of ``remote`` inside ``folder``, downloading it if absent, and verify its checksum.

    ``sha256`` overrides the pinned digest. A mismatch or a failed download raises ``ValueError``
    saying how to pass a local copy (``config_key=...``).
    """
    folder = Path(folder)
    target = folder / remote.name
    expected = sha256 or remote.sha256
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        errors = []
        for url in remote.urls:
            tmp = target.with_suffix(target.suffix + ".part")
            try:
                log.info("downloading %s", url)
                with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
                    while chunk := resp.read(1 << 20):
                        out.write(chunk)
                os.replace(tmp, target)
                break
            except (urllib.error.URLError, OSError, TimeoutError) as err:
                errors.append(f"{url}: {err}")
                tmp.unlink(missing_ok=True)
        else:
            raise ValueError(f"cannot download {remote.name} ({'; '.join(errors)}). On an offline machine "
                             f"download it elsewhere and pass the local file with {config_key}=<path>, or "
                             f"copy it to {target}")
    digest = sha256_of(target)
    if expected is not None and digest != expected:
        raise ValueError(f"{target} has SHA-256 {digest}, expected {expected}: the file is corrupt or a "
                         f"different version; delete it to re-download, or pass a trusted copy with {config_key}=<path>")
    if expected is None:
        log.info("%s sha256 %s (no pinned checksum)", target, digest)
    return target
