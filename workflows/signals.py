"""Signals the workflow engine sends.

``case_transitioned`` is sent *after the transition committed* (``transaction.on_commit``), for
observers only: a receiver cannot change the transition's state or veto it, and its failure does
not undo the transition. Everything that takes part in a transition — custody, clocks, metrics
rollups, documents, packages, notifications — is declared in its
:class:`~workflows.definition.TransitionSpec` and run by the engine explicitly.

Arguments: ``sender`` (the string ``"workflows"``), ``case``, ``transition`` (the TransitionSpec),
``source`` and ``target`` (stage names), ``from_agency`` and ``to_agency`` (holder before and
after; equal when the holder does not change), ``acting_user`` (who fired it — the approving
supervisor when it needed approval), ``transfer`` (the package sent/accepted/rejected/withdrawn by
this transition, or None), ``transfers`` (every package of the transition — a judgment goes to
several agencies), ``log`` (the TransitionLog row) and ``inputs`` (the cleaned inputs).
"""

from __future__ import annotations

from django.dispatch import Signal

case_transitioned = Signal()
