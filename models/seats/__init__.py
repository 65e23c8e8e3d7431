"""Seats and numbers: seats with their SIP accounts, leased numbers, their rent and validity."""
