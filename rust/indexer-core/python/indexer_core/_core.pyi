from typing import Any

CONTRACT: int
__version__: str

class Core:
    """The native core of one pipeline (rust/indexer-core/src/lib.rs)."""

    def __init__(
        self,
        index_prefix: str,
        max_past_seconds: float,
        max_future_seconds: float,
        parsing: bool,
        parse_everything: bool = False,
    ) -> None: ...
    def add_route(self, path: str, base: str | None, fields: bytes, parse: bool) -> None: ...
    def route_count(self) -> int: ...
    def take(
        self, messages: list[Any], ingested: bytes
    ) -> tuple[
        list[str | None],
        list[bytes | None],
        list[int],
        list[str],
        dict[tuple[str, int], int],
        dict[str, int],
        int,
        int,
        str | None,
    ]: ...
