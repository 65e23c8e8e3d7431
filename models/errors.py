"""Errors the provisioning layer raises for bad input; the CLI and the admin show them as they are."""


class InvalidInput(ValueError):
    """Input that cannot be accepted: the message is one line meant for the operator."""


class NotFound(InvalidInput):
    """A referenced tenant, seat, number or campaign does not exist."""


class ForeignReference(NotFound):
    """An id given for one tenant (or user) that names nothing of theirs: another tenant's call,
    campaign or number, another user's token, or nothing at all (the same answer either way, so
    ids of others reveal nothing). ``kind``, ``value`` and ``owner`` (the tenant code or the
    username) let the admin say it in the page's language."""

    def __init__(self, kind: str, value: str, owner: str, message: str):
        super().__init__(message)
        self.kind, self.value, self.owner = kind, value, owner
