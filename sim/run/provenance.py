"""Which code a result came from: the package version, a hash of the installed ``sim/`` sources
and, when the code runs from a git checkout, the commit and whether the tree had changes.

Two runs made by the same version from different checkouts (a branch, an edited file) record the
same ``alliance-sim`` version; the sources' hash tells them apart, and the commit says where to
find the code again. :func:`code_provenance` is written into every result folder's manifest
before it is sealed (:func:`sim.run.integrity.seal`), so it is covered by the seal like the rest.

Nothing here may fail a run: the commit is read from the ``.git`` files themselves (``HEAD``, the
branch's ref or ``packed-refs``, a worktree's ``gitdir``), without git; whether the tree is dirty
needs git (``git status --porcelain``, five seconds at most) and is recorded as unknown without it.
Each is computed once per process.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

#: the package's folder (``sim/``): its ``*.py`` files are what the hash covers
PACKAGE = Path(__file__).resolve().parents[1]
#: how long ``git status`` may take before the tree's state is recorded as unknown
GIT_TIMEOUT = 5.0


def sources_digest(package: Path = PACKAGE) -> str:
    """SHA-256 over the package's Python sources: each file's path (relative, ``/``-separated)
    and bytes, in sorted order; compiled files and caches are left out (computed once per
    process and folder)."""
    return _sources_digest(Path(package).resolve())


@functools.cache
def _sources_digest(package: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py"), key=lambda p: p.relative_to(package).as_posix()):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(package).as_posix().encode() + b"\0")
        try:
            data = path.read_bytes()
        except OSError:
            data = b"<unreadable>"
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def git_dir(root: Path) -> Path | None:
    """The git folder of a checkout rooted at ``root``: ``.git`` itself, or the folder a
    worktree's ``.git`` file points to; None when ``root`` is not a checkout."""
    dot = root / ".git"
    try:
        if dot.is_dir():
            return dot
        if dot.is_file():
            text = dot.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                target = Path(text.removeprefix("gitdir:").strip())
                target = target if target.is_absolute() else (root / target)
                return target.resolve() if target.is_dir() else None
    except OSError:
        return None
    return None


def _common_dir(gitdir: Path) -> Path:
    """Where a worktree's refs live (its ``commondir``), or the git folder itself."""
    try:
        common = (gitdir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return gitdir
    path = Path(common)
    return (path if path.is_absolute() else gitdir / path).resolve()


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def read_commit(gitdir: Path) -> tuple[str | None, str | None]:
    """``(commit, branch)`` of a git folder from its files (no git needed); None where a file is
    missing or not understood."""
    try:
        head = (gitdir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None, None
    if _is_sha(head):  # a detached head
        return head, None
    if not head.startswith("ref:"):
        return None, None
    ref = head.removeprefix("ref:").strip()
    branch = ref.removeprefix("refs/heads/")
    for folder in (gitdir, _common_dir(gitdir)):
        try:
            sha = (folder / ref).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if _is_sha(sha):
            return sha, branch
    try:
        packed = (_common_dir(gitdir) / "packed-refs").read_text(encoding="utf-8")
    except OSError:
        return None, branch
    for line in packed.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == ref and _is_sha(parts[0]):
            return parts[0], branch
    return None, branch  # a branch with no commit yet


def tree_dirty(root: Path, timeout: float = GIT_TIMEOUT) -> bool | None:
    """Whether the checkout at ``root`` has changes git would commit (tracked files changed, or
    files not ignored added); None when git is missing, slow or fails."""
    git = shutil.which("git")
    if git is None:
        return None
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            [git, "-C", str(root), "status", "--porcelain"],
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return bool(done.stdout.strip())


def code_provenance(package: Path = PACKAGE) -> dict:
    """What a manifest records about the code: ``version``, ``sources_sha256`` and, from a git
    checkout, ``git`` (``commit``, ``branch``, ``dirty``: true, false or null for unknown)."""
    return copy.deepcopy(_code_provenance(Path(package).resolve()))


@functools.cache
def _code_provenance(package: Path) -> dict:
    from sim.version import __version__

    record: dict = {"version": __version__, "sources_sha256": sources_digest(package)}
    root = package.parent
    gitdir = git_dir(root)
    if gitdir is not None:
        commit, branch = read_commit(gitdir)
        record["git"] = {"commit": commit, "branch": branch, "dirty": tree_dirty(root)}
    return record


def describe(record: dict | None) -> list[tuple[str, str]]:
    """A manifest's code record as ``(what, value)`` rows for a reader."""
    if not isinstance(record, dict):
        return [("code", "not recorded (written by an older alliance-sim)")]
    rows = [
        ("alliance-sim", str(record.get("version", "?"))),
        ("sim/ sources (SHA-256)", str(record.get("sources_sha256", "?"))),
    ]
    git = record.get("git")
    if isinstance(git, dict):
        dirty = git.get("dirty")
        state = {True: "with uncommitted changes", False: "clean", None: "state unknown (no git)"}.get(
            dirty, "state unknown"
        )
        where = f" on {git['branch']}" if git.get("branch") else ""
        rows.append(("git commit", f"{git.get('commit') or 'none'}{where}, tree {state}"))
    else:
        rows.append(("git commit", "not a git checkout"))
    return rows
