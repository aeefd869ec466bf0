"""Output folders of `townsquare reproduce` and `townsquare train`: claimed with a marker.

A command writes into ``--out`` only if the folder is new, empty, or already holds that
command's output (its marker file, or for training a ``train.json`` written before
markers existed). Any other non-empty folder is refused before anything is computed, so
a user's own ``quantiles.csv`` or ``curve.csv`` is never replaced. The marker is written
first, so a folder interrupted half-way is still recognised as the command's own.

Every output file is written beside its name and renamed onto it (`replacing`,
`replace_file`, `replace_text`): a symlink someone placed at an output name is replaced
by the file rather than written through (so a file outside the folder is never
overwritten), and a reader never sees a half-written file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

REPRODUCE_MARKER = ".townsquare-reproduce"
TRAIN_MARKER = ".townsquare-train"

#: what a reproduction wrote before markers existed: a folder holding all of these (and no
#: marker) is taken as that experiment's earlier output, so `make reproduce` can rerun
#: into it; one stray file of the same name (a user's quantiles.csv) is not enough
LEGACY_OUTPUTS = {
    "meylahn2024": ("consensus_times.parquet", "quantiles.csv", "survival.png"),
    "jin2024": ("results.csv", "summary.csv", "answers.json"),
}


def _fresh_sibling(path: Path) -> Path:
    """A new, empty regular file beside ``path`` (``.STEM.tmp-PID[-N]SUFFIX``), made with
    O_EXCL so that nothing already there (a planted symlink included) is opened. The
    suffix is kept for writers that pick a format from it (matplotlib, numpy)."""
    for n in range(1000):
        extra = f"-{n}" if n else ""
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{extra}{path.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{path}: no free temporary name beside it")


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Write ``path`` by writing the yielded temporary sibling (same folder), which is
    renamed onto ``path`` (`os.replace`) when the block ends without an exception.

    A symlink at ``path`` is replaced itself, never written through; an exception (or an
    interruption) removes the temporary file and leaves ``path`` as it was."""
    path = Path(path)
    tmp = _fresh_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_file(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` writes the whole file at ``tmp``, which then replaces ``path``
    (see `replacing`). Returns ``path``."""
    path = Path(path)
    with replacing(path) as tmp:
        write(tmp)
    return path


def replace_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """``path`` replaced by a file holding ``text`` (see `replacing`). Returns ``path``."""
    return replace_file(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def _shown(path: object) -> str:
    """``path`` as it can appear in a one-line message (control characters escaped)."""
    text = str(path)
    return text if text.isprintable() else repr(text)[1:-1]


def _marked(folder: Path, marker: str) -> dict | None:
    """The marker's JSON document, {} for an unreadable one, None when there is none."""
    path = folder / marker
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _occupied(folder: Path) -> bool:
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{_shown(folder)}: is a file, not a folder; choose another --out")
    return folder.is_dir() and any(folder.iterdir())


def check_reproduce_folder(folder: Path, experiment: str) -> None:
    """Refuse ``folder`` unless it is new, empty or a reproduction of ``experiment``."""
    if not _occupied(folder):
        return
    doc = _marked(folder, REPRODUCE_MARKER)
    legacy = LEGACY_OUTPUTS.get(experiment, ())
    if doc is None and legacy and all((folder / name).is_file() for name in legacy):
        return
    if doc is None:
        raise UserError(
            f"{_shown(folder)}: folder is not empty and holds no townsquare reproduction; "
            "choose another --out"
        )
    found = doc.get("experiment")
    if found != experiment:
        what = f"of {_shown(found)}" if isinstance(found, str) else "of another experiment"
        raise UserError(
            f"{_shown(folder)}: folder holds a townsquare reproduction {what}, not of "
            f"{experiment}; choose another --out"
        )


def claim_reproduce_folder(folder: Path, experiment: str) -> None:
    """Make ``folder`` (checked by `check_reproduce_folder`) and write its marker."""
    check_reproduce_folder(folder, experiment)
    folder.mkdir(parents=True, exist_ok=True)
    replace_text(folder / REPRODUCE_MARKER, json.dumps({"experiment": experiment}) + "\n")


def holds_training(folder: Path) -> bool:
    return _marked(folder, TRAIN_MARKER) is not None or (folder / "train.json").is_file()


def check_train_folder(folder: Path) -> None:
    """Refuse ``folder`` unless it is new, empty or holds a `townsquare train` output."""
    if _occupied(folder) and not holds_training(folder):
        raise UserError(
            f"{_shown(folder)}: folder is not empty and holds no townsquare training "
            "output; choose another --out"
        )


def claim_train_folder(folder: Path, role: str, algo: str) -> None:
    """Make ``folder`` (checked by `check_train_folder`) and write its marker."""
    check_train_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    replace_text(folder / TRAIN_MARKER, json.dumps({"role": role, "algo": algo}) + "\n")
