"""peewee tables and the services over them, grouped by aggregate (docs/architecture.md):
``tenancy``, ``seats`` (seats and numbers), ``lists`` (consent, do-not-call), ``calls`` (calls and
charging), ``ledger`` (ledger and statements), ``complaints`` (complaints and audit) and
``accounts``; each package's ``tables.py`` holds its tables. The plumbing sits here: ``db`` (the
database and its two pools), ``base``, ``sql_statements`` (named SQL), ``migrations``,
``csv_import`` / ``csv_export`` and ``retention``, which runs over every aggregate.

Imports nothing of the product but the pure helpers of ``domain`` (ARCHITECTURE: layout). The
tables are importable from here (``from models import Tenant``)."""
from models.db import database, open_database, write_transaction, for_update, is_postgres, is_sqlite
from domain.errors import InvalidInput, NotFound
from models.tenancy.tables import Tenant, TenantBan, Campaign
from models.seats.tables import NumberLease, Seat
from models.lists.tables import Consent, DoNotCall
from models.calls.tables import CallRecord, Hold, Attempt, LeaseDailyUse
from models.ledger.tables import LedgerEntry
from models.accounts.tables import AdminUser, AdminSession, ApiToken
from models.complaints.tables import Complaint, AuditLog
from models.calls.rollups import CallDayRollup, CallHourRollup, CallDayStats, CallDayReason

from models.schema import ALL_MODELS
from models.migrations import migrate, current_version, latest_version

__all__ = [name for name in dir() if not name.startswith("_")]
