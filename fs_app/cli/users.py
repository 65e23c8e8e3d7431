"""`fsapp user add|disable|enable|unlock|pii|reset-password|disable-idle`: web admin logins (RULEBOOK D4, D7)."""
from __future__ import annotations

import sys

from models.accounts import users
from domain.clock import utcnow
from domain.errors import InvalidInput


def register(sub) -> None:
    user = sub.add_parser("user", help="web admin logins").add_subparsers(dest="user_command", required=True)

    p = user.add_parser("add", help="add a login (operator, tenant_admin or auditor)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=("operator", "tenant_admin", "auditor"))
    p.add_argument("--tenant", help="the tenant a tenant_admin manages")
    p.add_argument("--pii", action="store_true", help="may see full phone numbers (D3)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from stdin (otherwise one is generated and printed once)")
    p.set_defaults(handler=user_add)

    for name, act, done, helptext in (
            ("disable", "disable_user", "disabled", "disable a login"),
            ("enable", "enable_user", "enabled", "let a disabled login sign in again with its own password"),
            ("unlock", "unlock_user", "unlocked", "end a username's lock after wrong passwords (no new password)")):
        p = user.add_parser(name, help=helptext)
        p.add_argument("username")
        p.set_defaults(handler=user_switch, act=act, done=done)

    p = user.add_parser("reset-password", help="set a new password, re-enable the login and clear its lock")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(handler=user_reset_password)

    p = user.add_parser("pii", help="grant or revoke the permission to see full phone numbers (D3)")
    p.add_argument("username")
    p.add_argument("grant", choices=("yes", "no"))
    p.set_defaults(handler=user_pii)

    p = user.add_parser("disable-idle", help="disable logins unused for login_idle_disable_days (D4)")
    p.set_defaults(handler=user_disable_idle)


def _password_from(args, ctx) -> str | None:
    if not args.password_stdin:
        return None
    stdin = getattr(ctx, "stdin", None) or sys.stdin
    password = stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidInput("no password on stdin")
    return password


def user_add(args, ctx) -> int:
    given = _password_from(args, ctx)
    password = given if given is not None else users.generate_password()
    user = users.add_user(args.username, role=args.role, password=password, tenant_code=args.tenant,
                             pii=args.pii, actor=ctx.actor)
    scope = f"tenant {args.tenant}" if args.tenant else "all tenants"
    print(f"user {user.username} added ({user.role}, {scope}{', PII' if user.pii else ''})", file=ctx.out)
    if given is None:
        print(f"password (shown once): {password}", file=ctx.out)
    return 0


def user_switch(args, ctx) -> int:
    """`user disable|enable|unlock`: one models.accounts function on one username."""
    getattr(users, args.act)(args.username, actor=ctx.actor)
    print(f"user {args.username} {args.done}", file=ctx.out)
    return 0


def user_reset_password(args, ctx) -> int:
    given = _password_from(args, ctx)
    password = users.reset_password(args.username, given, actor=ctx.actor)
    print(f"user {args.username}: password reset, login enabled", file=ctx.out)
    if given is None:
        print(f"password (shown once): {password}", file=ctx.out)
    return 0


def user_disable_idle(args, ctx) -> int:
    disabled = users.disable_idle_logins(utcnow(), ctx.settings.login_idle_disable_days)
    print(f"disabled {len(disabled)} idle login(s)" + (f": {', '.join(disabled)}" if disabled else ""), file=ctx.out)
    return 0


def user_pii(args, ctx) -> int:
    user = users.set_pii(args.username, args.grant == "yes", actor=ctx.actor)
    print(f"user {user.username}: {'may' if user.pii else 'may not'} see full phone numbers", file=ctx.out)
    return 0
