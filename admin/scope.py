"""Tenant isolation (RULEBOOK D6): every query of tenant data goes through these helpers.

A tenant admin sees only their own tenant: lists are filtered by it, and a record of another
tenant reached by editing an id in the URL is "not found" (404, so ids do not leak existence).
"""
from __future__ import annotations

from flask import abort, g, request

from domain.bounds import ROW_ID
from models.tenancy.tables import Tenant


def own_tenant_id() -> int | None:
    """The tenant a tenant admin is confined to; None for operators and auditors (all tenants)."""
    return g.user.tenant_id if g.user.role == "tenant_admin" else None


def restrict(query, tenant_field):
    """Filter ``query`` to what the user may see, and to ?tenant=CODE when an all-tenant user asks."""
    own = own_tenant_id()
    if own is not None:
        return query.where(tenant_field == own)
    chosen = chosen_tenant()
    if chosen is not None:
        return query.where(tenant_field == chosen.id)
    return query


def chosen_tenant() -> Tenant | None:
    """The tenant the page is about: the user's own, or ?tenant=CODE for all-tenant users."""
    own = own_tenant_id()
    if own is not None:
        return Tenant.get_by_id(own)
    code = (request.values.get("tenant") or "").strip()
    if not code:
        return None
    tenant = Tenant.get_or_none(Tenant.code == code)
    if tenant is None:
        abort(404)
    return tenant


def ensure_visible(tenant_id: int | None) -> None:
    """404 unless the user may see data of this tenant (platform-wide rows: all-tenant users only)."""
    own = own_tenant_id()
    if own is not None and tenant_id != own:
        abort(404)


def visible_row(model, row_id: int):
    """The ``model`` row with this id, or 404 when it does not exist or belongs to a tenant the
    user may not see (the same answer either way, so ids of other tenants reveal nothing)."""
    if ROW_ID.problem(row_id):  # no such row; the query would overflow the id column
        abort(404)
    row = model.get_or_none(model.id == row_id)
    if row is None:
        abort(404)
    ensure_visible(row.tenant_id)
    return row


def tenant_code_for_write(submitted: str) -> str:
    """The tenant a form writes to: a tenant admin's own, whatever the form says."""
    own = own_tenant_id()
    if own is not None:
        return Tenant.get_by_id(own).code
    return (submitted or "").strip()


def visible_tenants() -> list[Tenant]:
    query = Tenant.select().order_by(Tenant.code)
    own = own_tenant_id()
    if own is not None:
        query = query.where(Tenant.id == own)
    return list(query)
