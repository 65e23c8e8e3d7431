"""The shape docs/architecture.md describes, checked over every import statement in the tree:
no import cycles, pure helpers and tables at the bottom, the model layer's aggregates in one
order, test support kept out of the product."""
from __future__ import annotations

import pytest

from .import_graph import cycles, graph

# The model layer's aggregates, lowest first: a service may import services of its own aggregate
# and of those before it. Tables (``models.<aggregate>.tables``), the audit log writer and the
# plumbing at the top of ``models`` (db, base, named SQL, CSV) sit below every service.
AGGREGATES = ("tenancy", "ledger", "seats", "lists", "calls", "complaints", "accounts")
BOTTOM_SERVICES = {"models.complaints.audit"}
PLUMBING = {"models.db", "models.base", "models.sql_statements", "models.csv_import", "models.csv_export"}
OVER_EVERYTHING = {"models", "models.schema", "models.migrations", "models.seat_accounts_migration",
                   "models.retention"}
TEST_SUPPORT = ("fake_switch", "bench", "tests")


@pytest.fixture(scope="module")
def edges():
    return graph()


def _under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _problems(edges, modules, allowed) -> list[str]:
    return sorted(f"{module} imports {target}" for module in edges if modules(module)
                  for target in edges[module] if not allowed(module, target))


def test_no_import_cycles_anywhere(edges):
    assert cycles(edges) == []


def test_the_graph_sees_imports_inside_functions_and_skips_type_checking_blocks(edges):
    # fs_app.runtime imports the admin inside a function; fake_switch's annotations-only imports
    # would otherwise make a cycle
    assert "admin" in edges["fs_app.runtime"]
    assert "models.ledger.posting" in edges["models.calls.billing"]  # `from models.ledger import posting`
    assert "fake_switch.switch" not in edges["fake_switch.leg"]


def test_domain_imports_nothing_of_ours_but_domain(edges):
    assert _problems(edges, lambda m: _under(m, "domain"), lambda m, t: _under(t, "domain")) == []


def test_models_import_only_models_and_domain(edges):
    assert _problems(edges, lambda m: _under(m, "models"), lambda m, t: _under(t, "models", "domain")) == []


def test_tables_import_only_tables(edges):
    def allowed(module, target):
        return _under(target, "domain") or target in ("models.base", "models.db") or target.endswith(".tables")

    assert _problems(edges, lambda m: m.startswith("models.") and m.endswith(".tables"), allowed) == []


def _aggregate(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "models" and parts[1] in AGGREGATES else None


def test_services_import_only_their_own_aggregate_and_those_below(edges):
    def is_service(module):
        return _aggregate(module) is not None and not module.endswith(".tables") and module not in BOTTOM_SERVICES

    def allowed(module, target):
        if (_under(target, "domain") or target in PLUMBING or target in BOTTOM_SERVICES or target.endswith(".tables")
                or target == "models"):
            return True
        below = _aggregate(target)
        return below is not None and AGGREGATES.index(below) <= AGGREGATES.index(_aggregate(module))

    assert _problems(edges, is_service, allowed) == []


def test_plumbing_imports_no_aggregate(edges):
    def allowed(module, target):
        return _under(target, "domain") or target in PLUMBING

    assert _problems(edges, lambda m: m in PLUMBING, allowed) == []


def test_every_models_module_has_a_place(edges):
    placed = PLUMBING | OVER_EVERYTHING | BOTTOM_SERVICES
    unplaced = [m for m in edges if _under(m, "models") and m not in placed and _aggregate(m) is None
                and m.split(".")[-1] not in AGGREGATES]
    assert unplaced == []


def test_the_product_never_imports_test_support(edges):
    assert _problems(edges, lambda m: _under(m, "fs_app", "admin", "models", "domain"),
                     lambda m, t: not _under(t, *TEST_SUPPORT)) == []


def test_benchmarks_do_not_import_tests(edges):
    assert _problems(edges, lambda m: _under(m, "bench"), lambda m, t: not _under(t, "tests")) == []


def test_fake_switch_imports_only_itself_and_the_clock(edges):
    assert _problems(edges, lambda m: _under(m, "fake_switch"),
                     lambda m, t: _under(t, "fake_switch") or t == "domain.clock") == []


def test_policy_rules_import_only_pure_helpers(edges):
    def allowed(module, target):
        return _under(target, "domain", "fs_app.policy")

    rules = lambda m: _under(m, "fs_app.policy") and m != "fs_app.policy.loader"  # noqa: E731
    assert _problems(edges, rules, allowed) == []
