"""What an uploaded file or folder may be named: one Unicode form (NFC), nothing invisible or
disguising (control and format characters, bidirectional overrides), nothing Windows cannot
hold (its device names, a trailing dot or space): a share of the storage stays usable there."""

from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
INVISIBLE = ("Cc", "Cf")  # Unicode categories: controls (NUL, tab, DEL), format (zero-width)
DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [
        f"{port}{n}"
        for port in ("COM", "LPT")
        for n in [*"123456789", "\u00b9", "\u00b2", "\u00b3"]
    ]
)  # Windows opens the device for these names, whatever the extension


def nfc(text: str) -> str:
    """`text` in Unicode's composed form: `é` typed or pasted either way is one name."""
    return unicodedata.normalize("NFC", text)


def invisible_character(name: str) -> str | None:
    """Why `name` holds a character a reader cannot see (None: it holds none)."""
    for char in name:
        code = f"U+{ord(char):04X}"
        if char in BIDI_CONTROLS:
            return f"a bidirectional control character ({code}) that disguises the name"
        if unicodedata.category(char) in INVISIBLE:
            return f"an invisible control or format character ({code})"
    return None


def windows_problem(name: str) -> str | None:
    """Why Windows could not hold `name` (None: it could)."""
    if name.split(".")[0].rstrip(" ").upper() in DEVICES:
        return f"{name.split('.')[0]!r} is a reserved device name on Windows"
    if name.endswith((".", " ")):
        return "it ends with a dot or a space (Windows drops them)"
    return None
