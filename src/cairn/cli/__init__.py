"""The ``cairn`` command: :mod:`cairn.cli.main` parses, each command is a module."""
