"""Which checkpoints a run keeps: the newest few, plus the last one known to be good.

A run that diverges (non-finite losses) must leave a checkpoint to go back to. The trainer writes no
checkpoint right after a non-finite step, and the keeper marks a checkpoint *good* once the step that
follows it (the first one computed with its weights) had a finite loss while the learning rate was
not backed off. Rotation (``keep_checkpoints``) never deletes the newest good checkpoint, so the
last checkpoint before the first non-finite step survives any number of later writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from graph_energy.training.checkpoint import save_checkpoint

__all__ = ["CheckpointKeeper"]

log = logging.getLogger("graph_energy.train")


class CheckpointKeeper:
    """Writes ``<folder>/step_XXXXXXXX.pt`` and ``last.pt`` and rotates old step files.

    Args:
        folder: the run's ``checkpoints`` folder (absolute).
        keep: newest periodic checkpoints kept (``None``: all); the good one is kept in addition.
        write: this process writes files (the main rank); other ranks only track the names.

    Attributes:
        good: newest checkpoint confirmed good (``None`` before the first confirmation).
        first_bad_step: step of the first non-finite loss since the last good state (``None``: none).
    """

    def __init__(self, folder: Path, keep: int | None, write: bool = True) -> None:
        self.folder = Path(folder)
        self.keep = keep
        self.write = write
        self.good: Path | None = None
        self.first_bad_step: int | None = None
        self._candidate: Path | None = None

    def path_for(self, step: int) -> Path:
        return self.folder / f"step_{step:08d}.pt"

    def start_from(self, path: Path, clean: bool) -> None:
        """A run resumed from ``path``: it becomes good once the next step is finite (if ``clean``)."""
        self._candidate = Path(path) if clean else None

    def save(self, step: int, payload: Callable[[], dict], clean: bool) -> Path:
        """Write the checkpoint of ``step`` (``payload()`` is only called on the writing rank) and
        rotate. ``clean``: no failure pending and the learning rate not backed off, so the checkpoint
        can become the good one. Returns its path (also on ranks that do not write)."""
        path = self.path_for(step)
        self._candidate = path if clean else None
        if not self.write:
            return path
        data = payload()
        save_checkpoint(path, data)
        save_checkpoint(self.folder / "last.pt", data)
        if self.keep is not None:
            protected = {path, self.good}
            for old in sorted(self.folder.glob("step_*.pt"))[: -self.keep]:
                if old not in protected:
                    old.unlink(missing_ok=True)
        log.info("checkpoint written: %s", path)
        return path

    def after_step(self, step: int, ok: bool, clean: bool) -> None:
        """Record the outcome of the step run at ``step`` (``ok``: finite loss and gradient; ``clean``:
        the learning rate is not backed off after it)."""
        if ok and self._candidate is not None:
            self.good = self._candidate
        self._candidate = None
        if not ok and self.first_bad_step is None:
            self.first_bad_step = step
        elif ok and clean:
            self.first_bad_step = None

    def advice(self) -> str:
        """What to do after a divergence: which checkpoint to resume from."""
        bad = f" at step {self.first_bad_step}" if self.first_bad_step is not None else ""
        if self.good is None:
            return (f"No checkpoint was written before the loss became non-finite{bad}: start again with a lower "
                    "learning rate (optim.optimizer.lr=...).")
        return (f"The last checkpoint before the loss became non-finite{bad} is {self.good}: resume with "
                f"train.resume={self.good} and a lower learning rate (optim.optimizer.lr=...).")
