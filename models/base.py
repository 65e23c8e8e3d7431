"""The model base class, bound to the database proxy."""
from __future__ import annotations

import json
from typing import Any, Callable

from peewee import Model, TextField

from models.db import database


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


def map_json_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of a JSON value with ``change`` applied to every string in it, keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [map_json_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {map_json_strings(key, change): map_json_strings(item, change) for key, item in value.items()}
    return value
