"""Tenancy: tenants, their bans, campaigns and scripts, and the end of a tenancy (termination)."""
