"""The model base class, bound to the database proxy."""
from __future__ import annotations

import json

from peewee import Model, TextField

from .db import database


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class JSONField(TextField):
    """JSON stored as text on both databases (portable, and only ever read whole)."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)
