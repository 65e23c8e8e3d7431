"""Filing and answering complaints from the admin (RULEBOOK D5, A6).

The admission team's ``models.complaints`` owns filing (it also runs the complaint-ratio guard,
A15) — this module calls it when it is installed. Until then ``_file_locally`` does the D5 part:
the complaint with its 2-hour deadline, and the number on the tenant's do-not-call list."""
from __future__ import annotations

from datetime import datetime, timedelta

from models.audit import audit
from models.clock import utcnow
from models.db import write_transaction
from models.errors import InvalidInput
from models.listing import add_dnc_entry
from models.numbers import normalize
from models.people import COMPLAINT_CHANNELS, Complaint
from models.provisioning import get_tenant

try:
    from models import complaints as shared_complaints
except ImportError:  # pragma: no cover - until the admission team's module is installed
    shared_complaints = None


def file_complaint(tenant_code: str, number: str, *, channel: str, text: str = "", call_uuid: str = "",
                   received_at: datetime | None = None, settings, actor: str) -> Complaint:
    if shared_complaints is not None:
        return shared_complaints.file_complaint(
            tenant_code, number, channel=channel, text=text, call_uuid=call_uuid, received_at=received_at,
            answer_hours=settings.complaint_answer_hours, limits=shared_complaints.GuardLimits.from_settings(settings),
            region=settings.default_region, actor=actor).complaint
    return _file_locally(tenant_code, number, channel=channel, text=text, call_uuid=call_uuid,
                         received_at=received_at, settings=settings, actor=actor)


def _file_locally(tenant_code, number, *, channel, text, call_uuid, received_at, settings, actor) -> Complaint:
    tenant = get_tenant(tenant_code)
    e164 = normalize(number, settings.default_region)
    if channel not in COMPLAINT_CHANNELS:
        raise InvalidInput(f"invalid channel {channel!r}: expected one of {', '.join(COMPLAINT_CHANNELS)}")
    now = utcnow()
    received = received_at or now
    if received > now:
        raise InvalidInput("a complaint cannot be received in the future")
    with write_transaction():
        complaint = Complaint.create(tenant=tenant, number=e164, channel=channel, text=(text or "").strip(),
                                     call_uuid=(call_uuid or "").strip()[:64], received_at=received,
                                     due_at=received + timedelta(hours=settings.complaint_answer_hours),
                                     created_by=actor)
        add_dnc_entry(e164, tenant=tenant, reason=f"complaint #{complaint.id}", source="complaint",
                      source_call=complaint.call_uuid, actor=actor)
        audit(actor, "complaint.file", tenant=tenant, target=e164, complaint_id=complaint.id, channel=channel)
    return complaint


def answer_complaint(complaint: Complaint, answer: str, *, actor: str) -> Complaint:
    if shared_complaints is not None:
        return shared_complaints.answer_complaint(complaint.id, answer, actor=actor)
    answer = (answer or "").strip()
    if not answer:
        raise InvalidInput("the answer must not be empty")
    if complaint.answered_at is not None:
        raise InvalidInput(f"complaint #{complaint.id} is already answered")
    now = utcnow()
    with write_transaction():
        Complaint.update(answered_at=now, answer=answer).where(Complaint.id == complaint.id).execute()
        audit(actor, "complaint.answer", tenant=complaint.tenant_id, target=complaint.number,
              complaint_id=complaint.id, late=now > complaint.due_at)
    return Complaint.get_by_id(complaint.id)
