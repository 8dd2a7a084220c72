"""Cursor pagination on every list: stable under inserts, no COUNT(*) over large tables."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    """``?cursor=…&page_size=…``; the response carries ``next``/``previous`` links, not page numbers.

    Views set ``ordering`` to a unique, immutable column (``-id``, ``sequence``) so a row never
    appears on two pages.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"

    def decode_cursor(self, request: Any) -> Any:
        # DRF answers a bad cursor with 404; it is a bad query parameter, so 400 naming it.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": [_("分页游标无效。")]}) from None

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> tuple[str, ...]:
        # Each view names its own unique, immutable ordering column.
        ordering = getattr(view, "ordering", None) or self.ordering
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)
