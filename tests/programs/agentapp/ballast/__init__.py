"""Holds a known amount of memory, allocated here, so a component breakdown can be
checked against it."""

HELD: list[bytearray] = []


def hold(mb: int) -> None:
    HELD.append(bytearray(mb * 1024 * 1024))
