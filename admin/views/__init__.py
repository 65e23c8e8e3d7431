"""One blueprint per page family; each view is a thin layer over models."""
from .account import blueprint as account
from .audit_log import blueprint as audit_log
from .calls import blueprint as calls
from .campaigns import blueprint as campaigns
from .complaints import blueprint as complaints
from .dashboard import blueprint as dashboard
from .lists import blueprint as lists
from .money import blueprint as money
from .reports import blueprint as reports
from .seats import blueprint as seats
from .tenants import blueprint as tenants

BLUEPRINTS = [dashboard, calls, reports, money, seats, campaigns, lists, complaints, tenants, audit_log, account]
