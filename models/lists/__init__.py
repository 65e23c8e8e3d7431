"""Lists: consent records and do-not-call entries, added one by one or imported."""
