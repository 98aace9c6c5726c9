"""Where renderers (text tables, Markdown, plots) register, so that models (Result,
Comparison) can offer ``table()``, ``format()`` and ``plot()`` without importing them.
Layers run one way: models <- renderers <- orchestration <- entry points; the renderer
modules register themselves when ``golat`` is imported."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_RENDERERS: dict[str, Callable[..., Any]] = {}


def renderer(name: str) -> Callable[[F], F]:
    """Register the decorated function as the renderer called ``name``."""

    def register(fn: F) -> F:
        _RENDERERS[name] = fn
        return fn

    return register


def render(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the renderer ``name`` (KeyError if no renderer module registered it)."""
    return _RENDERERS[name](*args, **kwargs)
