"""Glob → regular expression, with Go's `filepath.Match` semantics (what filebeat uses).

`*` and `?` never cross `/`; `[...]` is a class (`[!...]` or `[^...]` negated); `\\` escapes.
The regexes use only syntax common to Python `re` and Go RE2, so filebeat reads them the same.
"""

from __future__ import annotations

import re
from functools import lru_cache


def glob_regex(glob: str) -> str:
    """An unanchored regex matching exactly what `glob` matches."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                raise ValueError(f"glob {glob!r}: unclosed '['")
            body = glob[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append("[" + ("^/" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        elif char == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def path_matches(glob: str, path: str) -> bool:
    """Whether the whole of `path` matches `glob` (as filebeat's `paths` entries do)."""
    return _compiled(glob).fullmatch(path) is not None


@lru_cache(maxsize=4096)
def _compiled(glob: str) -> re.Pattern[str]:
    # One per rendered path glob (apps x include globs): translated and compiled once.
    return re.compile(glob_regex(glob))


def basename_regex(glob: str) -> str:
    """A regex that finds a path whose last component matches `glob` (for `exclude_files`)."""
    return "/" + glob_regex(glob) + "$"
