"""Every table of the product, in an order that respects foreign keys (creation, clean-up, checks)."""
from __future__ import annotations

from models.accounts.tables import AdminSession, AdminUser, ApiToken
from models.calls.rollups import CallDayReason, CallDayRollup, CallDayStats, CallHourRollup
from models.calls.tables import Attempt, CallRecord, Hold, LeaseDailyUse
from models.complaints.tables import AuditLog, Complaint
from models.ledger.tables import LedgerEntry
from models.lists.tables import Consent, DoNotCall
from models.seats.tables import NumberLease, Seat
from models.tenancy.tables import Campaign, Tenant, TenantBan

ALL_MODELS = [
    Tenant, TenantBan, NumberLease, Campaign, Seat, Consent, DoNotCall, CallRecord, Hold,
    LedgerEntry, AdminUser, ApiToken, Complaint, AuditLog, Attempt, LeaseDailyUse, AdminSession,
    CallDayRollup, CallHourRollup, CallDayStats, CallDayReason,
]
