"""`fsapp tenant|seat|number|campaign|topup|calls`: provisioning and the call list."""
from __future__ import annotations

from peewee import JOIN

from models import CallRecord, Campaign, NumberLease, Seat, Tenant
from models.ledger import topups
from models.seats import number_leases
from models.tenancy import campaigns
from models.tenancy import tenants
from models.tenancy.tenants import active_bans
from models.seats.seats import seats_in_use

from fs_app.cli.arguments import (
    amount_fen, days, iso_time, list_rows, number_max_calls, price_fen, read_text_file, seat_count, yes_no,
)
from fs_app.cli import seats as seat_commands
from fs_app.cli.output import write_json, write_rows

BAN_FUNCTION_CHOICES = ("account", "outbound", "inbound", "recording")


def register(sub) -> None:
    tenant = sub.add_parser("tenant", help="tenants").add_subparsers(dest="tenant_command", required=True)

    p = tenant.add_parser("add", help="add a tenant (starts in pending_review)")
    p.add_argument("code")
    p.add_argument("--name", required=True)
    p.add_argument("--display-name", required=True, help="spoken to callees in the disclosure")
    p.add_argument("--hotline", required=True, help="complaint hotline, national or E.164")
    p.add_argument("--seats", required=True, type=seat_count)
    p.add_argument("--rate", required=True, type=price_fen, help="outbound fen per minute")
    p.add_argument("--inbound-rate", type=price_fen)
    p.add_argument("--connect-fee", type=price_fen, default=0)
    p.add_argument("--seat-rent", type=price_fen, default=0, help="fen per seat per 30-day period")
    p.add_argument("--industry", default="")
    p.add_argument("--sip-domain", help="the tenant's own SIP domain (default: <code>.<sip_base_domain>)")
    p.set_defaults(handler=tenant_add)

    p = tenant.add_parser("set", help="change a tenant")
    p.add_argument("code")
    p.add_argument("--status", choices=("active", "suspended", "terminated"))
    p.add_argument("--seats", type=seat_count)
    p.add_argument("--rate", type=price_fen)
    p.add_argument("--inbound-rate", type=price_fen)
    p.add_argument("--connect-fee", type=price_fen)
    p.add_argument("--industry-approved", type=yes_no)
    p.add_argument("--windows", help="calling windows, e.g. 09:00-12:00,14:00-18:00 (only narrower)")
    p.add_argument("--sip-domain", help="a new SIP domain (only while no seat is on the current one)")
    p.add_argument("--display-name", help="spoken to callees in the disclosure")
    p.add_argument("--hotline", help="complaint hotline, national or E.164")
    p.add_argument("--seat-rent", type=price_fen, help="fen per seat per period")
    p.set_defaults(handler=tenant_set)

    p = tenant.add_parser("ban", help="ban an account or a function until a time")
    p.add_argument("code")
    p.add_argument("--function", required=True, choices=BAN_FUNCTION_CHOICES)
    p.add_argument("--until", required=True, type=iso_time)
    p.add_argument("--reason", default="")
    p.set_defaults(handler=tenant_ban)

    p = tenant.add_parser("unban", help="lift an active ban")
    p.add_argument("code")
    p.add_argument("--function", required=True, choices=BAN_FUNCTION_CHOICES)
    p.set_defaults(handler=tenant_unban)

    p = tenant.add_parser("show", help="show a tenant")
    p.add_argument("code")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=tenant_show)

    seat = sub.add_parser("seat", help="seats and their SIP accounts").add_subparsers(
        dest="seat_command", required=True)
    seat_commands.register(seat)

    number = sub.add_parser("number", help="number leases").add_subparsers(dest="number_command", required=True)
    p = number.add_parser("lease", help="lease a number to a tenant")
    p.add_argument("tenant")
    p.add_argument("number")
    p.add_argument("--days", type=days, default=None, help="paid-through days (default: number_period_days)")
    p.add_argument("--monthly-fee", type=price_fen, default=0)
    p.add_argument("--max-calls", type=number_max_calls, default=None)
    p.add_argument("--inbound-mode", choices=("simultaneous", "sequential"), default="simultaneous")
    p.set_defaults(handler=number_lease)
    p = number.add_parser("release", help="give a leased number back (no longer a caller ID; not refunded)")
    p.add_argument("tenant")
    p.add_argument("number")
    p.set_defaults(handler=number_release)
    p = number.add_parser("set", help="change a lease's live-call limit or inbound mode")
    p.add_argument("tenant")
    p.add_argument("number")
    p.add_argument("--max-calls", type=number_max_calls)
    p.add_argument("--inbound-mode", choices=("simultaneous", "sequential"))
    p.set_defaults(handler=number_set)

    campaign = sub.add_parser("campaign", help="campaigns and call scripts").add_subparsers(
        dest="campaign_command", required=True)
    p = campaign.add_parser("add", help="add a campaign; its script is screened and sent to review")
    p.add_argument("tenant")
    p.add_argument("code")
    p.add_argument("--script-file", required=True)
    p.add_argument("--record", type=yes_no, default=True)
    p.set_defaults(handler=campaign_add)
    p = campaign.add_parser("update", help="replace a campaign's script (screened again, back to review)")
    p.add_argument("tenant")
    p.add_argument("code")
    p.add_argument("--script-file", required=True)
    p.set_defaults(handler=campaign_update)
    for action in ("approve", "reject"):
        p = campaign.add_parser(action, help=f"{action} a campaign's script (operator)")
        p.add_argument("tenant")
        p.add_argument("code")
        p.add_argument("--note", default="")
        p.set_defaults(handler=campaign_review, approve=(action == "approve"))

    p = campaign.add_parser("record", help="turn recording (with the callee's consent, B2) on or off")
    p.add_argument("tenant")
    p.add_argument("code")
    p.add_argument("record", type=yes_no, metavar="yes|no")
    p.set_defaults(handler=campaign_record)

    p = sub.add_parser("topup", help="add prepaid money (fen) to a tenant")
    p.add_argument("tenant")
    p.add_argument("amount", type=amount_fen, metavar="FEN")
    p.add_argument("--promo", action="store_true", help="promotional credit (not invoiceable)")
    p.set_defaults(handler=topup)

    p = sub.add_parser("calls", help="list call records")
    p.add_argument("--tenant")
    p.add_argument("--since", type=iso_time)
    p.add_argument("--limit", type=list_rows, default=1000)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(handler=calls)


def tenant_add(args, ctx) -> int:
    tenant = tenants.add_tenant(
        args.code, name=args.name, display_name=args.display_name, hotline=args.hotline, seats=args.seats,
        rate=args.rate, inbound_rate=args.inbound_rate, connect_fee=args.connect_fee, seat_rent=args.seat_rent,
        industry=args.industry, billing_increment_s=ctx.settings.billing_increment_s,
        region=ctx.settings.default_region, sip_domain=args.sip_domain,
        sip_base_domain=ctx.settings.sip_base_domain, actor=ctx.actor)
    print(f"tenant {tenant.code} added, SIP domain {tenant.sip_domain} (status {tenant.status}; activate with "
          f"`fsapp tenant set {tenant.code} --status active`)", file=ctx.out)
    return 0


def tenant_set(args, ctx) -> int:
    tenant = tenants.set_tenant(
        args.code, status=args.status, seats=args.seats, rate=args.rate, inbound_rate=args.inbound_rate,
        connect_fee=args.connect_fee, industry_approved=args.industry_approved, windows=args.windows,
        platform_windows=ctx.settings.calling_windows, sip_domain=args.sip_domain,
        display_name=args.display_name, hotline=args.hotline, seat_rent=args.seat_rent,
        region=ctx.settings.default_region, actor=ctx.actor)
    print(f"tenant {tenant.code} updated (status {tenant.status})", file=ctx.out)
    return 0


def tenant_ban(args, ctx) -> int:
    ban = tenants.ban_tenant(args.code, function=args.function, until=args.until, reason=args.reason,
                                  actor=ctx.actor)
    print(f"tenant {args.code}: {ban.function} banned until {ban.until:%Y-%m-%d %H:%M:%S} UTC", file=ctx.out)
    return 0


def tenant_unban(args, ctx) -> int:
    tenants.lift_ban(args.code, args.function, actor=ctx.actor)
    print(f"tenant {args.code}: {args.function} ban lifted", file=ctx.out)
    return 0


def tenant_document(tenant: Tenant) -> dict:
    leases = NumberLease.select().where(NumberLease.tenant == tenant).order_by(NumberLease.number)
    seats = Seat.select().where(Seat.tenant == tenant).order_by(Seat.sip_user)
    return {
        "code": tenant.code, "name": tenant.name, "display_name": tenant.display_name,
        "sip_domain": tenant.sip_domain,
        "hotline": tenant.hotline, "status": tenant.status, "industry": tenant.industry,
        "industry_approved": tenant.industry_approved, "seats_purchased": tenant.seats_purchased,
        "seats_in_use": seats_in_use(tenant), "rate_out_fen": tenant.rate_out_fen,
        "rate_in_fen": tenant.rate_in_fen, "connect_fee_fen": tenant.connect_fee_fen,
        "billing_increment_s": tenant.billing_increment_s, "seat_rent_fen": tenant.seat_rent_fen,
        "calling_windows": tenant.calling_windows or "(platform)",
        "balance_fen": tenant.balance_fen, "promo_balance_fen": tenant.promo_balance_fen,
        "bans": [{"function": b.function, "until": b.until, "reason": b.reason} for b in active_bans(tenant)],
        "seats": [{"seat": s.address, "role": s.role, "valid_to": s.valid_to, "active": s.active} for s in seats],
        "numbers": [{"number": n.number, "province": n.province, "city": n.city, "paid_through": n.paid_through,
                     "max_calls": n.max_calls} for n in leases],
    }


def tenant_show(args, ctx) -> int:
    document = tenant_document(tenants.get_tenant(args.code))
    if args.json:
        write_json(ctx.out, document)
        return 0
    for key, value in document.items():
        if isinstance(value, list):
            print(f"{key}:", file=ctx.out)
            if value:
                write_rows(ctx.out, list(value[0].keys()), value)
            else:
                print("  (none)", file=ctx.out)
        else:
            print(f"{key}: {value}", file=ctx.out)
    return 0


def number_lease(args, ctx) -> int:
    lease = number_leases.lease_number(
        args.tenant, args.number, days=args.days or ctx.settings.number_period_days,
        monthly_fee=args.monthly_fee, max_calls=args.max_calls or ctx.settings.number_max_calls,
        inbound_mode=args.inbound_mode, region=ctx.settings.default_region, actor=ctx.actor,
        period_days=ctx.settings.number_period_days)
    where = f"{lease.province}{lease.city if lease.city != lease.province else ''}" or "unknown region"
    print(f"{lease.number} ({where}) leased to {args.tenant}, paid through "
          f"{lease.paid_through:%Y-%m-%d %H:%M} UTC", file=ctx.out)
    return 0


def number_release(args, ctx) -> int:
    lease = number_leases.release_number(args.tenant, args.number, region=ctx.settings.default_region,
                                        actor=ctx.actor)
    print(f"{lease.number} released by {args.tenant}", file=ctx.out)
    return 0


def number_set(args, ctx) -> int:
    lease = number_leases.set_number(args.tenant, args.number, max_calls=args.max_calls,
                                    inbound_mode=args.inbound_mode, region=ctx.settings.default_region,
                                    actor=ctx.actor)
    print(f"{lease.number}: max calls {lease.max_calls}, inbound mode {lease.inbound_mode}", file=ctx.out)
    return 0


def campaign_record(args, ctx) -> int:
    campaign = campaigns.set_campaign_recording(args.tenant, args.code, args.record, actor=ctx.actor)
    print(f"campaign {campaign.code}: recording {'on' if campaign.record else 'off'}", file=ctx.out)
    return 0


def campaign_add(args, ctx) -> int:
    campaign = campaigns.add_campaign(
        args.tenant, args.code, script=read_text_file(args.script_file), record=args.record,
        keyword_categories=ctx.settings.screening_keywords,
        auto_approve_clean=ctx.settings.script_auto_approve_clean, actor=ctx.actor)
    _print_campaign(ctx, campaign)
    return 0


def campaign_update(args, ctx) -> int:
    campaign = campaigns.update_campaign_script(
        args.tenant, args.code, script=read_text_file(args.script_file),
        keyword_categories=ctx.settings.screening_keywords,
        auto_approve_clean=ctx.settings.script_auto_approve_clean, actor=ctx.actor)
    _print_campaign(ctx, campaign)
    return 0


def _print_campaign(ctx, campaign) -> None:
    hits = "; ".join(f"{cat}: {', '.join(terms)}" for cat, terms in campaign.screening_hits.items())
    print(f"campaign {campaign.code}: {campaign.status}" + (f" (screening hits: {hits})" if hits else ""),
          file=ctx.out)


def campaign_review(args, ctx) -> int:
    campaign = campaigns.review_campaign(args.tenant, args.code, approve=args.approve, note=args.note,
                                            actor=ctx.actor)
    print(f"campaign {campaign.code}: {campaign.status}", file=ctx.out)
    return 0


def topup(args, ctx) -> int:
    entry = topups.topup(args.tenant, args.amount, promo=args.promo, actor=ctx.actor)
    kind = "promotional credit" if args.promo else "top-up"
    print(f"{args.tenant}: {kind} of {args.amount} fen; balance {entry.balance_after_fen} fen", file=ctx.out)
    return 0


CALL_COLUMNS = ["created_at", "tenant", "seat", "direction", "caller", "callee", "campaign", "decision",
                "reasons", "result", "answered_at", "ended_at", "billsec", "billed_minutes", "charge_fen",
                "recording_digit", "agent_uuid", "callee_uuid"]


def calls(args, ctx) -> int:
    # The codes come under names of their own: selected as plain Tenant.code / Campaign.code,
    # peewee put half-loaded Tenant/Campaign objects (no id) on call.tenant / call.campaign, so
    # call.tenant_id read None and both columns printed empty.
    query = (CallRecord.select(CallRecord, Tenant.code.alias("tenant_code"), Campaign.code.alias("campaign_code"))
             .join(Tenant, JOIN.LEFT_OUTER, on=(CallRecord.tenant == Tenant.id))
             .switch(CallRecord)
             .join(Campaign, JOIN.LEFT_OUTER, on=(CallRecord.campaign == Campaign.id)))
    if args.tenant:
        query = query.where(CallRecord.tenant == tenants.get_tenant(args.tenant))
    if args.since:
        query = query.where(CallRecord.created_at >= args.since)
    query = query.order_by(CallRecord.created_at.desc(), CallRecord.id.desc()).limit(args.limit).objects()
    rows = []
    for call in query:
        rows.append({
            "created_at": call.created_at, "tenant": call.tenant_code or "",
            "seat": call.seat_address, "direction": call.direction, "caller": call.caller_number,
            "callee": call.callee_number, "campaign": call.campaign_code or "",
            "decision": call.decision, "reasons": call.reasons, "result": call.result,
            "answered_at": call.answered_at, "ended_at": call.ended_at, "billsec": call.billsec,
            "billed_minutes": call.billed_minutes, "charge_fen": call.charge_fen,
            "recording_digit": call.recording_digit, "agent_uuid": call.agent_uuid,
            "callee_uuid": call.callee_uuid or "",
        })
    write_rows(ctx.out, CALL_COLUMNS, rows, args.format, phone_columns=("caller", "callee"))
    return 0
