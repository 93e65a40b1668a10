"""Assertions shared by the client scripts: each prints what it checked,
and the first failure exits non-zero with what was expected."""
import sys


def check(condition, what):
    if not condition:
        print("FAILED: " + what)
        sys.exit(1)
    print("ok: " + what)


def ok(result, what):
    """An imaplib (typ, data) result that must be OK; returns data."""
    typ, data = result
    check(typ == "OK", f"{what} ({typ} {data!r})")
    return data
