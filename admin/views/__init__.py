"""One blueprint per page family; each view is a thin layer over models."""
from .account import blueprint as account
from .audit_log import blueprint as audit_log
from .calls import blueprint as calls
from .campaigns import blueprint as campaigns
from .complaints import blueprint as complaints
from .dashboard import blueprint as dashboard
from .campaign_ops import blueprint as campaign_ops
from .list_ops import blueprint as list_ops
from .lists import blueprint as lists
from .live import blueprint as live
from .number_ops import blueprint as number_ops
from .seat_ops import blueprint as seat_ops
from .tenant_ops import blueprint as tenant_ops
from .users import blueprint as users
from .money import blueprint as money
from .reports import blueprint as reports
from .seats import blueprint as seats
from .tenants import blueprint as tenants

BLUEPRINTS = [dashboard, calls, reports, money, seats, campaigns, lists, complaints, tenants, audit_log, account]
# the operations pages (issue 17): provisioning acts, logins, the live view
BLUEPRINTS += [live, seat_ops, number_ops, tenant_ops, campaign_ops, list_ops, users]
