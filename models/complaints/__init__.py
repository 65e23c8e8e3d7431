"""Complaints and audit: complaints with their answer deadlines, the ratio guard, the audit log."""
