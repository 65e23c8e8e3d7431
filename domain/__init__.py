"""Pure domain helpers: phone numbers and their regions, calling windows, rating, reason codes,
input bounds, the errors bad input raises, and the one injectable clock. No database: the policy
imports these without touching the model layer, and ``models`` builds on them."""
