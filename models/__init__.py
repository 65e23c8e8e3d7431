"""peewee models for tenants, seats, leases, consent, do-not-call lists, holds, the ledger and
call records. Imports nothing from the rest of the product but the pure helpers of `domain` (ARCHITECTURE: layout)."""
from .db import database, open_database, write_transaction, for_update, is_postgres, is_sqlite
from domain.errors import InvalidInput, NotFound
from .tenancy import Tenant, TenantBan, NumberLease, Campaign, Seat
from .lists import Consent, DoNotCall
from .calls import CallRecord, Hold
from .money import LedgerEntry
from .people import AdminUser, AdminSession, ApiToken, Complaint, AuditLog
from .attempts import Attempt, LeaseDailyUse
from .call_stats import CallDayRollup, CallHourRollup, CallDayStats, CallDayReason

# Creation order respects foreign keys.
ALL_MODELS = [
    Tenant, TenantBan, NumberLease, Campaign, Seat, Consent, DoNotCall, CallRecord, Hold,
    LedgerEntry, AdminUser, ApiToken, Complaint, AuditLog, Attempt, LeaseDailyUse, AdminSession,
    CallDayRollup, CallHourRollup, CallDayStats, CallDayReason,
]

from .migrations import migrate, current_version, latest_version  # noqa: E402

__all__ = [name for name in dir() if not name.startswith("_")]
