"""Helpers shared by the lab checks: calling the student's function safely, comparing numbers."""

from __future__ import annotations

from typing import Any, Callable

import torch


def call(fn: Callable, *args: Any, what: str) -> Any:
    """Call the student's `fn`, a crash becoming an AssertionError that says where; used by the checks of labs 01-05."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise AssertionError(f"{what} is not implemented yet: replace `raise NotImplementedError()` with "
                             "your code") from None
    except AssertionError:
        raise
    except Exception as exc:  # any error inside the student's code becomes a readable hint
        shapes = ", ".join(str(tuple(a.shape)) if torch.is_tensor(a) else repr(a) for a in args)
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc} (called with {shapes})") from exc


def scalar(value: Any, what: str) -> torch.Tensor:
    """Insist on a 0-dimensional tensor (a loss), with a hint when it is not; used by the loss checks of labs 01-05."""
    if not torch.is_tensor(value):
        raise AssertionError(f"{what} should return a torch tensor, got {type(value).__name__}. Keep the "
                             "computation in torch (no .item(), no numpy) so that gradients can flow")
    if value.dim() != 0:
        raise AssertionError(f"{what} should return a single number (a 0-dimensional tensor), got shape "
                             f"{tuple(value.shape)}. Did you forget to average (.mean()) over the batch?")
    return value


def close(a: torch.Tensor | float, b: torch.Tensor | float, tol: float = 1e-4) -> bool:
    """True when `a` and `b` have the same shape and agree within `tol`; used by the checks of labs 01-05."""
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=tol, atol=tol))


def ok(message: str) -> None:
    """Print a check's "✓ message" line; the labs (from `labs/01_cyclegan_lab.ipynb` on) show these."""
    print(f"✓ {message}")
