"""Plain-dict configs: build objects from ``_target_`` dicts, turn objects back into dicts, and address
nested values by dotted path. Hydra-free, so the library can rebuild what a checkpoint or a YAML
file describes without importing the CLI's composition machinery.

A config *node* is a mapping with a ``_target_`` (``"package.module.Class"`` or a function), the
keyword arguments of the call, and optionally ``_partial_: true`` (return a
:func:`functools.partial` instead of calling). Lists and plain mappings are built element-wise.

Files we load are data. A checkpoint or a YAML file given by path must never run code outside this
library's own classes, so :func:`instantiate` (``trusted=False``, the default) only builds classes
inside the ``graph_energy`` package (not its ``config``/``cli`` machinery, and not its functions, which
may write files) or targets explicitly allowed with :func:`allow_targets` (in Python, or
``allowed_targets=[...]`` on any console script's command line); anything else raises
:class:`UnsafeTargetError` before it is imported or called. Configs a user composes on the command
line or passes from Python are theirs: build them with ``trusted=True``.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["instantiate", "locate", "allow_targets", "allowed_targets", "is_allowed", "UnsafeTargetError",
           "Configurable", "to_config", "get_path", "set_path", "target_name"]

_LIBRARY = "graph_energy"
#: Library machinery that is never a component: building these from a file could escalate trust
#: (``instantiate(..., trusted=True)``) or run a console script.
_NEVER_FROM_FILES = ("graph_energy.config.", "graph_energy.cli.")
_ALLOWED: set[str] = set()


class UnsafeTargetError(ValueError):
    """A ``_target_`` outside this library (and not allowed explicitly) in a config that was loaded from a file."""


def allow_targets(*targets: str) -> None:
    """Allow building these targets from loaded files too.

    Each entry is a full dotted name (``"mypkg.kernels.MyKernel"``) or a module prefix ending in ``.``
    (``"mypkg.kernels."``: everything inside that module/package).
    """
    for t in targets:
        if not isinstance(t, str) or not t.strip("."):
            raise ValueError(f"allow_targets takes dotted names such as 'mypkg.MyClass', got {t!r}")
        _ALLOWED.add(t)


def allowed_targets() -> set[str]:
    """The user's extra allowed targets (the library's own are always allowed)."""
    return set(_ALLOWED)


def _user_allowed(target: str) -> bool:
    return any(target == a or (a.endswith(".") and target.startswith(a)) for a in _ALLOWED)


def is_allowed(target: str) -> bool:
    """Whether ``target`` may be located from an untrusted (loaded) config: a name inside this library
    (but not its config/CLI machinery) or one allowed with :func:`allow_targets`. :func:`instantiate`
    additionally only *calls* library targets that are classes."""
    t = str(target)
    if _user_allowed(t):
        return True
    if t.startswith(_NEVER_FROM_FILES):
        return False
    return t == _LIBRARY or t.startswith(_LIBRARY + ".")


def target_name(obj: Any) -> str:
    """``"module.QualName"`` of a class or function (or of an instance's class)."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        obj = type(obj)
    return f"{obj.__module__}.{obj.__qualname__}"


def locate(target: str, *, trusted: bool = False) -> Any:
    """The object a dotted ``target`` names (``module.attr`` or ``module.Class.attr``).

    Raises:
        UnsafeTargetError: ``trusted=False`` and the target lies outside the library and the allow-list.
        ValueError: the target cannot be imported.
    """
    if not isinstance(target, str) or not target:
        raise ValueError(f"_target_ must be a dotted name such as 'graph_energy.samplers.Sampler', got {target!r}")
    if not trusted and not is_allowed(target):
        raise UnsafeTargetError(
            f"refusing to build _target_ {target!r} from a loaded file: only graph_energy classes may be built "
            "from checkpoints and config files; if this is your own class, allow it with "
            f"graph_energy.config.allow_targets({target!r}) (or allowed_targets=[...] on the command line)")
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name and module_name.startswith(err.name) or err.name == module_name:
                continue
            raise
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ValueError(f"cannot import _target_ {target!r}; check the module and class name in the config")


def instantiate(node: Any, *, trusted: bool = False, **overrides: Any) -> Any:
    """Build a (nested) ``_target_`` config.

    Args:
        node: a mapping with ``_target_`` (built), a plain mapping or list (built element-wise), or a value.
        trusted: the config comes from the user (command line / Python); otherwise only library
            classes and :func:`allow_targets` entries are built (library functions are refused).
        overrides: extra keyword arguments for the top-level call (e.g. objects that are not config).
    """
    if isinstance(node, Mapping):
        if "_target_" not in node:
            out = {k: instantiate(v, trusted=trusted) for k, v in node.items()}
            out.update(overrides)
            return out
        fn = locate(node["_target_"], trusted=trusted)
        if not trusted and not inspect.isclass(fn) and not _user_allowed(str(node["_target_"])):
            # a library *function* may write files or load more configs: only classes are components
            raise UnsafeTargetError(
                f"refusing to call _target_ {node['_target_']!r} from a loaded file: only graph_energy classes "
                "may be built from checkpoints and config files, not functions; allow it explicitly with "
                f"graph_energy.config.allow_targets({node['_target_']!r}) if you trust this file")
        partial = bool(node.get("_partial_", False))
        kwargs = {k: instantiate(v, trusted=trusted) for k, v in node.items() if k not in ("_target_", "_partial_")}
        kwargs.update(overrides)
        if partial:
            return functools.partial(fn, **kwargs)
        try:
            return fn(**kwargs)
        except TypeError as err:
            raise TypeError(f"cannot build {node['_target_']}: {err}; check the keys of its config") from None
    if isinstance(node, (list, tuple)):
        return [instantiate(v, trusted=trusted) for v in node]
    return node


class Configurable:
    """Mixin that records an object's constructor arguments, so :func:`to_config` can write it back.

    The recorded arguments are the bound call with defaults applied; nested objects are converted
    recursively. Subclasses need no code of their own.
    """

    def __new__(cls, *args: Any, **kwargs: Any):
        obj = super().__new__(cls)
        try:
            bound = inspect.signature(cls.__init__).bind(obj, *args, **kwargs)
        except TypeError:  # let __init__ raise its own, clearer error
            return obj
        bound.apply_defaults()
        params = dict(bound.arguments)
        params.pop("self", None)
        for name, p in inspect.signature(cls.__init__).parameters.items():
            if p.kind is inspect.Parameter.VAR_KEYWORD and name in params:
                params.update(params.pop(name))
            elif p.kind is inspect.Parameter.VAR_POSITIONAL and name in params:
                params.pop(name)
        obj._config_args = params
        return obj

    def to_config(self) -> dict:
        return {"_target_": target_name(self), **{k: to_config(v) for k, v in self._config_args.items()}}

    def __deepcopy__(self, memo):
        cls = type(self)
        new = cls.__new__(cls, **copy.deepcopy(getattr(self, "_config_args", {}), memo))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            setattr(new, k, copy.deepcopy(v, memo))
        return new


def to_config(obj: Any) -> Any:
    """Plain config of ``obj``: ``Configurable`` objects as ``_target_`` dicts, containers element-wise."""
    if isinstance(obj, Configurable):
        return obj.to_config()
    if hasattr(obj, "to_config") and callable(obj.to_config) and not inspect.isclass(obj):
        return obj.to_config()
    if isinstance(obj, Mapping):
        return {str(k): to_config(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_config(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot write a {type(obj).__name__} into a config; make it a Configurable or a plain value")


def _step(node: Any, key: str, path: str) -> Any:
    if isinstance(node, Mapping):
        if key not in node:
            raise KeyError(f"config path {path!r}: no key {key!r} (keys: {sorted(map(str, node))})")
        return node[key]
    if isinstance(node, list):
        return node[_list_index(node, key, path)]
    raise KeyError(f"config path {path!r}: {key!r} addresses into a {type(node).__name__}, not a mapping or list")


def _list_index(node: list, key: str, path: str) -> int:
    if key.lstrip("-").isdigit():
        i = int(key)
        if not -len(node) <= i < len(node):
            raise KeyError(f"config path {path!r}: index {i} out of range for a list of {len(node)}")
        return i
    names = [item.get("name") if isinstance(item, Mapping) else None for item in node]
    if key in names:
        return names.index(key)
    raise KeyError(f"config path {path!r}: no list item named {key!r} (names: {[n for n in names if n]})")


def _split(path: str | Iterable[str]) -> list[str]:
    keys = path.split(".") if isinstance(path, str) else [str(k) for k in path]
    if not keys or any(k == "" for k in keys):
        raise KeyError(f"bad config path {path!r}: use dotted keys such as 'phases.mixing.kernel.beta_prop'")
    return keys


def get_path(cfg: Any, path: str) -> Any:
    """Value at a dotted ``path``; list items by index or by their ``name`` key."""
    node = cfg
    for k in _split(path):
        node = _step(node, k, path)
    return node


def set_path(cfg: Any, path: str, value: Any) -> None:
    """Set the value at a dotted ``path`` in place (the parent must exist; a mapping key may be new)."""
    keys = _split(path)
    parent = get_path(cfg, ".".join(keys[:-1])) if len(keys) > 1 else cfg
    last = keys[-1]
    if isinstance(parent, list):
        parent[_list_index(parent, last, path)] = value
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise KeyError(f"config path {path!r}: cannot set {last!r} inside a {type(parent).__name__}")
