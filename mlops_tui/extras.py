"""Optional extras: features whose packages `make` installs but a bare `pip install mlops-tui` does not.

The compiled engine and model export need native toolchains in Python packages (lleaves with the
one llvmlite it works with, tl2cgen, onnxmltools + onnxruntime): heavy, pinned, and useless to
someone who only tunes models, so they live in the ``compiled`` extra. A missing one is reported
as one line naming the extra and the command that installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mlops_tui.errors import UserError

COMPILED = "compiled"


def missing_extra(purpose: str, extra: str = COMPILED, detail: str = "") -> UserError:
    why = f" ({detail})" if detail else ""
    return UserError(f"{purpose} needs the optional extra '{extra}'{why}: "
                     f"pip install 'mlops-tui[{extra}]' (`make` installs it)")


def require(module: str, purpose: str, extra: str = COMPILED) -> ModuleType:
    """Import ``module`` or raise the one-line UserError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_extra(purpose, extra, f"{exc.name or module} is not installed") from exc
