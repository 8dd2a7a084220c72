"""Enumerate the whole URL conf, so that security tests cover endpoints nobody listed by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern


@dataclass(frozen=True)
class Endpoint:
    route: str  # the full pattern, e.g. "cases/<int:pk>/"
    name: str | None  # namespaced name, e.g. "cases:detail" (None when the pattern has no name)
    params: tuple[str, ...]  # keyword arguments the pattern captures
    callback: Callable

    @property
    def label(self) -> str:
        return self.name or self.route


def _params(pattern) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters) or tuple(pattern.regex.groupindex)
    if isinstance(pattern, RegexPattern):
        return tuple(pattern.regex.groupindex)
    return ()


def _walk(resolver: URLResolver, prefix: str, namespace: str, params: tuple[str, ...]) -> Iterator[Endpoint]:
    for entry in resolver.url_patterns:
        text = str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, prefix + text, ns, params + _params(entry.pattern))
        elif isinstance(entry, URLPattern):
            name = None
            if entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Endpoint(route=prefix + text, name=name, params=params + _params(entry.pattern),
                           callback=entry.callback)


def endpoints() -> list[Endpoint]:
    return list(_walk(get_resolver(), "", "", ()))
