"""Cairn: an event-sourced, OpenStack-compatible cloud control plane."""

__version__ = "0.1.0"
