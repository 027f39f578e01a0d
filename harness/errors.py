class HarnessError(Exception):
    """A failure the user can act on; the CLI prints it as one line and exits 1."""


def tail(data: bytes | str, n: int = 80) -> str:
    """At most the last `n` characters of what a board sent (bytes as their repr), so that an error quoting
    a noisy console stays one readable line however much arrived."""
    text = repr(bytes(data)) if isinstance(data, (bytes, bytearray)) else str(data)
    return text if len(text) <= n else "..." + text[-n:]
