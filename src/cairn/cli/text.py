"""Text for people at the command line."""


def for_people(docstring: str | None) -> str:
    """A module docstring as a --help description, without reST's double backquotes."""
    return (docstring or "").replace("``", "")
