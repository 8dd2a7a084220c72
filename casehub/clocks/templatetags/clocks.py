"""``{% load clocks %}``: ``{{ remaining|countdown:provisional }}`` renders a remaining-time text."""

from django import template

from casehub.clocks.inbox import describe_remaining

register = template.Library()


@register.filter
def countdown(remaining: int | None, provisional: bool = False) -> str:
    return describe_remaining(remaining, bool(provisional))
