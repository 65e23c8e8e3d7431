"""Filing and answering complaints from the admin (RULEBOOK D5, A6, A15).

``models.complaints`` does the work (the complaint with its answer deadline, the number on the
tenant's do-not-call list and the complaint-ratio guard, in one transaction); this only passes
the settings the admin holds."""
from __future__ import annotations

from datetime import datetime

from models.complaints import complaints
from models.complaints.tables import Complaint


def file_complaint(tenant_code: str, number: str, *, channel: str, text: str = "", call_uuid: str = "",
                   received_at: datetime | None = None, settings, actor: str) -> Complaint:
    filed = complaints.file_complaint(
        tenant_code, number, channel=channel, text=text, call_uuid=call_uuid, received_at=received_at,
        answer_hours=settings.complaint_answer_hours, limits=settings.complaint_guard_limits(),
        region=settings.default_region, actor=actor)
    return filed.complaint


def answer_complaint(complaint: Complaint, answer: str, *, actor: str) -> Complaint:
    return complaints.answer_complaint(complaint.id, answer, actor=actor)
