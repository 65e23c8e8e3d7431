"""Ledger and statements: the append-only ledger, balances, debits, top-ups, payouts, statements."""
