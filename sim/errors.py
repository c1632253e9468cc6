"""The error family: every error the program reports to a user carries its exit code.

The command line maps errors by type (:func:`sim.cli.main`): an :class:`InputError` is bad input
(exit 2, one line naming the file, the place and what was expected), a :class:`RunError` a run
that could not finish (exit 1; finished chunks are kept), and an interrupted run exits with 130.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class AllianceError(Exception):
    """Base of every error alliance-sim reports to its user; ``exit_code`` is what the CLI returns.

    ``message`` may say ``{hint}`` where the way to finish an interrupted run goes (``hint``);
    ``resume`` holds the plain values a caller needs to say that way itself (the scenario file,
    the result folder, the settings the manifest records, point values or not), and
    :meth:`with_hint` gives the same error saying it: the command line names the command to type,
    so that nothing below it builds command lines.
    """

    exit_code: int = EXIT_INTERNAL
    #: the prefix the CLI puts before the message ("error: " for bad input)
    prefix: str = ""

    def __init__(self, message: str = "", *, hint: str | None = None, resume: dict | None = None):
        self.template = message
        self.hint = hint
        self.resume = resume
        super().__init__(message.replace("{hint}", hint) if hint is not None else message)

    def with_hint(self, hint: str) -> AllianceError:
        """The same error with ``hint`` as the way to finish."""
        return type(self)(self.template, hint=hint, resume=self.resume)


class InputError(AllianceError, ValueError):
    """Bad input: a scenario, a result directory, an option or an analysis asked for wrongly."""

    exit_code = EXIT_BAD_INPUT
    prefix = "error: "


class RunError(AllianceError, RuntimeError):
    """A run that could not finish; what finished is kept on disk (``resume`` says how to finish
    it, see :class:`AllianceError`)."""

    exit_code = EXIT_INTERNAL


class Interrupted(RunError):  # noqa: N818 - reads as what happened
    """A run stopped by the user (Ctrl-C) or by a signal to end (SIGTERM, SIGHUP); finished chunks
    are kept and ``--resume`` finishes it. The exit code is ``128 + signal``: 130 for Ctrl-C."""

    exit_code = EXIT_INTERRUPTED

    def __init__(
        self,
        message: str = "interrupted",
        signum: int = EXIT_INTERRUPTED - 128,
        *,
        hint: str | None = None,
        resume: dict | None = None,
    ):
        super().__init__(message, hint=hint, resume=resume)
        self.signum = int(signum)
        self.exit_code = 128 + self.signum

    def with_hint(self, hint: str) -> Interrupted:
        """The same interruption (same signal) with ``hint`` as the way to finish."""
        return type(self)(self.template, self.signum, hint=hint, resume=self.resume)


_KEPT = "\n\t"
#: the Unicode categories a terminal acts on or shows as nothing: controls (an escape sequence can
#: retitle, recolour or clear a terminal), format characters (zero-width spaces, direction
#: overrides that reorder what is shown), line and paragraph separators, surrogates
_UNSEEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` safe to print on a terminal: every character a terminal would act on or not show
    (see :data:`_UNSEEN`) is written as its Python escape (``\\x1b``, ``\\u202e``). Newlines and
    tabs stay unless ``newlines`` is false (one-line messages). Text that is already printable is
    returned as it is, so escaping twice changes nothing."""
    import unicodedata

    if text.isascii() and text.isprintable():
        return text
    kept = _KEPT if newlines else ""
    return "".join(
        ch
        if ch in kept or (ch.isprintable() or unicodedata.category(ch) not in _UNSEEN)
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )
