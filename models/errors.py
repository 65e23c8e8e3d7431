"""Errors the provisioning layer raises for bad input; the CLI and the admin show them as they are."""


class InvalidInput(ValueError):
    """Input that cannot be accepted: the message is one line meant for the operator."""


class NotFound(InvalidInput):
    """A referenced tenant, seat, number or campaign does not exist."""
