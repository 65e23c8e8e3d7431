"""Argument types shared by the command modules: values are checked before anything is written."""
from __future__ import annotations

import argparse
from typing import Callable

from domain import bounds
from domain.bounds import Bound
from domain.clock import parse_iso
from domain.errors import InvalidInput


def _whole(text: str, noun: str) -> int | str:
    """``text`` as an int; the digits themselves when they are past Python's int-from-text limit
    (4300 digits), which is out of every range all the same."""
    cleaned = text.strip()
    try:
        return int(cleaned, 10)
    except ValueError:
        if cleaned.lstrip("+-").isdecimal():
            return cleaned
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{noun}") from None


def bounded(bound: Bound, noun: str = "") -> Callable[[str], int]:
    """An argument type: a whole number inside ``bound`` (domain.bounds), else argparse's one-line
    error naming the option and the range."""

    def parse(text: str) -> int:
        value = _whole(text, noun)
        if isinstance(value, str):
            sign = "-" if value.startswith("-") else ""
            raise argparse.ArgumentTypeError(
                f"must be {bound.range_text}, got {sign}a number of {len(value.lstrip('+-'))} digits")
        problem = bound.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = f"whole number {bound.range_text}"
    return parse


price_fen = bounded(bounds.PRICE_FEN, " of fen")  # rates, fees, rents
amount_fen = bounded(bounds.AMOUNT_FEN, " of fen")  # one top-up, refund, adjustment
seat_count = bounded(bounds.SEATS)
days = bounded(bounds.DAYS)
number_max_calls = bounded(bounds.NUMBER_MAX_CALLS)
list_rows = bounded(bounds.LIST_ROWS)
row_id = bounded(bounds.ROW_ID)


def yes_no(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("yes", "y", "true", "1"):
        return True
    if lowered in ("no", "n", "false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


def iso_time(text: str):
    try:
        return parse_iso(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def open_text_file(path: str):
    """A UTF-8 text stream of the file for the csv module (a BOM skipped), or InvalidInput; bytes
    that are not UTF-8 are found as the stream is read."""
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InvalidInput(f"file not found: {path}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def read_text_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InvalidInput(f"file not found: {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
