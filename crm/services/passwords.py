"""Whether a password someone chose is too easy to guess: too short, or little left once
common passwords, keyboard and alphabet runs and repeated characters are taken out (a
small list kept here; nothing is looked up elsewhere)."""

import re
from functools import cache
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 200
# What must be left of a password once the guessable parts are taken out.
MIN_LEFT, MIN_DISTINCT_LEFT = 6, 4
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "01234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_REPEATS = re.compile(r"(.)\1+")


def weakness(password: str, email: str) -> str | None:
    """Why ``password`` will not do for the user with ``email``; None when it will."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"{MIN_LENGTH} to {MAX_LENGTH} characters."
    lowered = password.strip().lower()
    if email and (email in lowered or lowered.rstrip("0123456789!.") == email.split("@")[0]):
        return "Must not be or hold the e-mail address."
    left = _REPEATS.sub(r"\1", _without_runs(_without_common(lowered)))
    if len(left) < MIN_LEFT or len(set(left)) < MIN_DISTINCT_LEFT:
        return (
            "Too easy to guess: a common password, a keyboard or number run, or repeats. "
            "Try a few words of your own."
        )
    return None


def _without_common(password: str) -> str:
    for word in _common():
        password = password.replace(word, "")
    return password


def _without_runs(password: str) -> str:
    for run in _RUNS:
        for sequence in (run, run[::-1]):
            for length in range(len(sequence), 2, -1):
                for start in range(len(sequence) - length + 1):
                    password = password.replace(sequence[start : start + length], "")
    return password


@cache
def _common() -> tuple[str, ...]:
    """The list's words, longest first (so a word is taken out before one it holds)."""
    words = (Path(__file__).with_name("common_passwords.txt")).read_text().split()
    return tuple(sorted(words, key=len, reverse=True))
