"""Signals the workflow engine sends.

``case_transitioned`` is sent *inside* the transition's transaction, after the case row, the
transition log and any transfer package have been written and before the audit event. Receivers
(custody transfer 换押, metrics) may write to the database in the same transaction; an exception
in a receiver rolls the whole transition back, so they must raise only to refuse the transition.

Arguments: ``sender`` (the :class:`~workflows.definition.TransitionSpec`'s module, i.e. the
string ``"workflows"``), ``case``, ``transition`` (the TransitionSpec), ``source`` and ``target``
(stage names), ``from_agency`` and ``to_agency`` (holder before and after; equal when the holder
does not change), ``acting_user`` (who fired it — the approving supervisor when it needed
approval), ``transfer`` (the package sent/accepted/rejected/withdrawn by this transition, or
None), ``transfers`` (every package of the transition — a judgment goes to several agencies),
``log`` (the TransitionLog row) and ``inputs`` (the cleaned inputs).
"""

from __future__ import annotations

from django.dispatch import Signal

case_transitioned = Signal()
