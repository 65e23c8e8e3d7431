"""Calls and charging: call records, reservations (holds), attempts, the charge, report rollups."""
