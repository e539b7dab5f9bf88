"""The status page and regulatory clocks."""
