"""Unreadable, hostile and half-written checkpoint files: each gets a CheckpointError naming the file,
nothing in them runs, and temporaries of killed writes are cleaned up."""

from __future__ import annotations

import os
import time

import pytest
import torch

from graph_energy.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)


class _RunsCode:
    """Pickles to a call of ``os.system`` (what a crafted checkpoint would carry)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_zero_byte_text_and_directory_checkpoints(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty.pt is empty \(0 bytes\)"):
        load_checkpoint(empty)
    text = tmp_path / "notes.pt"
    text.write_text("these are my notes, not a checkpoint\n")
    with pytest.raises(CheckpointError, match=r"notes.pt is corrupt or truncated, or not a checkpoint"):
        load_checkpoint(text)
    with pytest.raises(CheckpointError, match="is a directory; pass the .pt file"):
        load_checkpoint(tmp_path)


def test_crafted_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "code_ran"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "graph_energy", "model": _RunsCode(marker)}, evil)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(evil)
    msg = str(info.value)
    assert "contains objects that are not allowed" in msg and "must not be loaded unsafely" in msg
    assert "weights_only=False" not in msg and "corrupt" not in msg
    assert not marker.exists()


def test_killed_writes_leave_no_temporaries_behind(tmp_path):
    target = tmp_path / "last.pt"
    old = tmp_path / ".last.pt.k1ll3d.tmp"
    old.write_bytes(b"")                      # a 0-byte temporary from a SIGKILLed write
    os.utime(old, (time.time() - 3600,) * 2)
    fresh = tmp_path / ".last.pt.w0rk1ng.tmp"  # another process's write in progress: left alone
    fresh.write_bytes(b"partial")
    other = tmp_path / ".step_00000010.pt.x.tmp"
    other.write_bytes(b"")
    os.utime(other, (time.time() - 3600,) * 2)
    save_checkpoint(target, {"step": 1, "model": {}, "config": {}, "spec": {}})
    assert not old.exists() and fresh.exists() and other.exists()
    assert load_checkpoint(target).step == 1
    assert remove_stale_temporaries(tmp_path / "step_00000010.pt") == [other]


_WRITER = """
import sys, torch
from graph_energy.training.checkpoint import save_checkpoint
big = {"w": torch.zeros(8_000_000)}  # ~32 MB: each write takes a while
step = 0
while True:
    step += 1
    save_checkpoint(sys.argv[1], {"step": step, "model": big, "config": {}, "spec": {}})
    print(step, flush=True)
"""


def _kill_mid_write(target) -> list:
    """Start the writer, SIGKILL it while a temporary file exists; the temporaries left behind."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        assert proc.stdout.readline().strip() == "1"  # one complete checkpoint on disk
        deadline = time.time() + 60
        while time.time() < deadline and not list(target.parent.glob(f".{target.name}.*.tmp")):
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # mid-write: the temporary file is half written
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return list(target.parent.glob(f".{target.name}.*.tmp"))


def test_sigkill_during_a_write_leaves_the_previous_checkpoint_whole(tmp_path):
    target = tmp_path / "last.pt"
    left = []
    for _ in range(3):  # the kill may (rarely) land between two writes: try again
        left = _kill_mid_write(target)
        if left:
            break
    assert left, "the kill should have interrupted a write"
    assert load_checkpoint(target).step >= 1  # last.pt is the previous complete write, never a partial one
    for tmp in left:  # the next write (here: a minute later) removes what the killed one left
        os.utime(tmp, (time.time() - 120,) * 2)
    save_checkpoint(target, {"step": 99, "model": {}, "config": {}, "spec": {}})
    assert not list(tmp_path.glob(".last.pt.*.tmp")) and load_checkpoint(target).step == 99
