"""Names of the benchmark users (importable without Django settings)."""

PASSWORD = "correct horse battery staple"  # noqa: S105 - every benchmark user's password


def username(index: int) -> str:
    """The user with primary key ``index``: ``u0000042``."""
    return f"u{index:07d}"


def phone(index: int) -> str:
    return f"+1415{index % 10_000_000:07d}"
