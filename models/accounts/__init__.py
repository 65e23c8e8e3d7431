"""Accounts: admin users, their sessions, API tokens and the sign-in throttle."""
