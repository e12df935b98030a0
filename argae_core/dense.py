"""The dense matrix products of the trainer's inner loops on the CPU, by MKL (`torch.mm`,
`addmm`) or by oneDNN (torch's mkldnn linear), whichever this machine runs clearly faster.

Four kinds of product. Three on row-major [rows x width] activations and small weights:

    forward     relu(x W^T + b)    `linear_relu`: oneDNN with the ReLU fused, where it runs
    activation  x @ W              `times_weight`: a gradient carried down through a layer
    weight      grad^T @ x         `weight_gradient`: a layer's weight gradient (a long sum over rows)

and one for feature-major activations ([width x rows], each feature's values side by side):

    abT         a @ b^T            `times_transposed`: a contiguous, b in either layout

oneDNN's linear takes its second operand as weights, which it reorders into its own layout
on every call anyway, so only the first operand's layout matters to it; a weight gradient
grad^T x whose grad is kept feature-major is then a product over contiguous rows, twice as
fast here as `weight_gradient` on row-major operands (the discriminator's update,
models.Discriminator.batch_gradients, is written that way).

Both libraries compute the same products; only the order of their float sums can differ. Their
speeds differ by CPU: on this project's 2-core AMD EPYC machine (torch 2.13, MKL 2024.2 running
without AVX-512 there, oneDNN 3.12 with it), one thread, Cora's discriminator batch
(benchmarks/bench_training_speed.py row (a)):

    [5416 x 64] @ [64 x 64]        MKL 484 us   oneDNN 209 us   (two threads: 258 / 130)
    [5416 x 64]^T @ [5416 x 64]    MKL 500 us   oneDNN 356 us   (two threads: 281 / 280)
    [5416 x 64]^T @ [5416 x 32]    MKL 264 us   oneDNN 206 us   (two threads: 154 / 151)
    the same two, feature-major    MKL 489 us   oneDNN 234 us   (two threads: 271 / 147)
                                   MKL 249 us   oneDNN 124 us   (two threads: 142 /  81)

and which is faster changes with the sizes (at 40,000 rows and two threads MKL wins some of
the weight products oneDNN wins at 5,416). So each product's library is measured on its first
use, per kind, sizes (long sides rounded up to a power of two, so that sampled batches of
similar size share one choice), the second operand's layout (abT) and thread count, in a few
ms on operands of those sizes; each kind has a usual library (DEFAULT: oneDNN for the
activation kind, the forward linear's own product, and for abT; MKL for the weight kind) and
leaves it only for one at least MARGIN times faster. The wide margin keeps a choice the same
from one process to the next: here oneDNN's row-major weight products timed 1.0-1.3x MKL's
(with a margin of 1.25 some processes chose one library and some the other; in a whole
training epoch oneDNN's was about 3 % faster, within the machine's noise), its activation
products 1.2-2.3x, its abT products about 2x. A run records the choices it trained with
(`in_use`, in its metrics) and its exported script pins them (`pin`), so the script repeats the
run's floats even where a timing is close enough to go either way. Products whose longest side
is under MIN_ROWS stay on MKL (at that size dispatch, not arithmetic, is the cost).
"""
from __future__ import annotations

import re
import time

import torch
from torch import nn

_LINEAR_POINTWISE = (getattr(torch.ops.mkldnn, "_linear_pointwise", None)
                     if torch.backends.mkldnn.is_available() else None)
FUSE_LINEAR_RELU = True  # False after a build's oneDNN refused the fused linear: MKL from then on
MARGIN = 1.5  # oneDNN only this much faster: see the module's docstring
MIN_ROWS = 1024
# kind -> oneDNN unless the other is MARGIN x faster
DEFAULT = {"activation": True, "weight": False, "abT": True}
KINDS = tuple(DEFAULT)
CHOICES: dict[tuple[int, str], bool] = {}  # (torch threads, the product in `in_use`'s words) -> oneDNN?
# `in_use`'s words for a product, per kind: kind, then its sizes (long ones as `_bucket`s)
WORDS = {"activation": re.compile(r"activation \d+ \d+x\d+"), "weight": re.compile(r"weight \d+ \d+x\d+"),
         "abT": re.compile(r"abT \d+x\d+ \d+x\d+ (rows|columns)")}


def linear_relu(x: torch.Tensor, layer: nn.Linear, out: torch.Tensor | None = None) -> torch.Tensor:
    """relu(x W^T + b). On the CPU by oneDNN's linear with the ReLU fused into it (one pass
    over the output less: Cora, [5416 x 64] outputs, about 35 us of 200-390 per product);
    elsewhere, or without oneDNN, `addmm` into `out` then ReLU in place."""
    global FUSE_LINEAR_RELU
    if FUSE_LINEAR_RELU and _LINEAR_POINTWISE is not None and _onednn_takes(x):
        try:
            return _LINEAR_POINTWISE(x, layer.weight, layer.bias, "relu", [], "")
        except RuntimeError:  # a build whose oneDNN does not take it: the plain path from now on
            FUSE_LINEAR_RELU = False
    if out is None:
        return torch.addmm(layer.bias, x, layer.weight.t()).relu_()
    return torch.addmm(layer.bias, x, layer.weight.t(), out=out).relu_()


def times_weight(x: torch.Tensor, weight: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """x @ weight for a small `weight` (a layer's [out x in], or a view of its transpose): the
    a @ b^T of `times_transposed` with b = weight^T, chosen for as its own kind."""
    words = f"activation {_bucket(x.size(0))} {weight.size(0)}x{weight.size(1)}"
    return _a_times_b_transposed("activation", words, x, weight.t(), out)


def weight_gradient(grad: torch.Tensor, inputs: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """grad^T @ inputs ([rows x p]^T [rows x q] -> [p x q]) into `out`."""
    rows, p, q = grad.size(0), grad.size(1), inputs.size(1)
    if _uses_onednn("weight", f"weight {_bucket(rows)} {p}x{q}", rows, grad,
                    lambda: _race_weight(rows, p, q)):
        return out.copy_(_onednn_weight_gradient(grad, inputs))
    return torch.mm(grad.t(), inputs, out=out)


def times_transposed(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """a @ b^T for a contiguous [p x k] `a` and a [q x k] `b` either row-major or the transposed
    view of a row-major [k x q]. By oneDNN's linear (b as its weights: either layout costs the
    same there) or by `torch.mm(a, b.t())`; into `out` when given (oneDNN's result copied there)."""
    layout = "rows" if b.stride(-1) == 1 else "columns"
    words = f"abT {_size(a.size(0))}x{_size(a.size(1))} {_size(b.size(0))}x{_size(b.size(1))} {layout}"
    return _a_times_b_transposed("abT", words, a, b, out)


def _a_times_b_transposed(kind: str, words: str, a: torch.Tensor, b: torch.Tensor,
                          out: torch.Tensor | None) -> torch.Tensor:
    """a @ b^T by the library chosen for `words` (timed on operands of these sizes and b's
    layout on first use); into `out` when given."""
    a = a.contiguous()
    if _uses_onednn(kind, words, max(*a.shape, b.size(0)), a, lambda: _race_abt(kind, a.shape, b)):
        product = _LINEAR_POINTWISE(a, b, None, "none", [], "")
        return product if out is None else out.copy_(product)
    return torch.mm(a, b.t()) if out is None else torch.mm(a, b.t(), out=out)


def _onednn_weight_gradient(grad: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """oneDNN's way has the wider side of the result as its output columns (Cora: [64 x 32] as
    ([32 x 64])^T, 273 -> 206 us); the other way round its strided reads are the slow ones."""
    if inputs.size(1) >= grad.size(1):
        return _LINEAR_POINTWISE(grad.t(), inputs.t(), None, "none", [], "")
    return _LINEAR_POINTWISE(inputs.t(), grad.t(), None, "none", [], "").t()


def _onednn_takes(x: torch.Tensor) -> bool:
    """A float32 CPU tensor outside autograd: what the oneDNN paths here are for."""
    return x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()


def _bucket(rows: int) -> int:
    """The power of two at or above `rows`: sampled batches of similar size share one choice."""
    return 1 << max(rows - 1, 1).bit_length()


def _size(n: int) -> int:
    """A size as the choices are kept: long ones (MIN_ROWS and more) as their `_bucket`."""
    return _bucket(n) if n >= MIN_ROWS else n


def _uses_onednn(kind: str, words: str, longest: int, x: torch.Tensor, race) -> bool:
    """Whether oneDNN computes this product (`words`, as `in_use` gives it; `longest` its
    longest side): `race()`'s verdict on first use of these words at this thread count, then
    kept. Products whose longest side is under MIN_ROWS stay on MKL."""
    if longest < MIN_ROWS or not _onednn_takes(x):
        return False
    key = (torch.get_num_threads(), words)
    chosen = CHOICES.get(key)
    if chosen is None:
        chosen = CHOICES[key] = FUSE_LINEAR_RELU and _LINEAR_POINTWISE is not None and race()
    return chosen


def in_use() -> dict[str, str] | None:
    """The choices made at this thread count, in words ({"weight 8192 64x64": "onednn", ...}:
    kind, rows up to, sizes), or None where no product has been large enough to need one."""
    threads = torch.get_num_threads()
    made = {words: "onednn" if on else "mkl" for (t, words), on in sorted(CHOICES.items()) if t == threads}
    return made or None


def pin(recorded: dict[str, str] | None) -> None:
    """Use these choices (`in_use`'s words, as a run recorded them) at this thread count;
    entries that do not read as `in_use` writes them are left out (chosen afresh)."""
    if not isinstance(recorded, dict):
        return
    threads = torch.get_num_threads()
    for words, library in recorded.items():
        kind = str(words).split(" ", 1)[0]
        if kind in WORDS and WORDS[kind].fullmatch(str(words)) and library in ("onednn", "mkl"):
            CHOICES[(threads, words)] = library == "onednn" and _LINEAR_POINTWISE is not None


def _race_weight(rows: int, a: int, b: int) -> bool:
    """`weight_gradient`'s race: [rows x a]^T @ [rows x b]."""
    generator = torch.Generator().manual_seed(0)
    grad, inputs = torch.rand(rows, a, generator=generator), torch.rand(rows, b, generator=generator)
    return _onednn_is_faster("weight", lambda: torch.mm(grad.t(), inputs),
                             lambda: _onednn_weight_gradient(grad, inputs))


def _race_abt(kind: str, a_shape: torch.Size, like: torch.Tensor) -> bool:
    """An a @ b^T product's race, on operands of these sizes, b in the layout of `like`."""
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(a_shape, generator=generator)
    b = (torch.rand(like.shape, generator=generator) if like.stride(-1) == 1
         else torch.rand(like.size(1), like.size(0), generator=generator).t())
    return _onednn_is_faster(kind, lambda: torch.mm(a, b.t()),
                             lambda: _LINEAR_POINTWISE(a, b, None, "none", [], ""))


def _onednn_is_faster(kind: str, mkl, onednn, rounds: int = 3) -> bool:
    """Best of `rounds` rounds of a product each way (`mkl`, `onednn`: the product on operands
    of its sizes, made from a private generator, so that the global random stream, which
    training draws from, is left as it was), in turn (each round about 1.5 ms; 10-20 ms in
    all): should oneDNN compute it (the kind's DEFAULT unless the other library is MARGIN
    times faster)?"""
    try:
        for _ in range(3):  # warm: oneDNN makes its primitive on the first call, caches fill
            onednn(), mkl()
    except RuntimeError:  # a build whose oneDNN does not take it
        return False
    calls = max(2, min(16, int(1.5e-3 / max(_seconds(mkl, 1), 1e-6))))
    times = {mkl: [], onednn: []}
    for _ in range(rounds):  # in turn, so that the machine's moods fall on both
        for product in times:
            times[product].append(_seconds(product, calls))
    return decide(kind, min(times[mkl]), min(times[onednn]))


def decide(kind: str, mkl_seconds: float, onednn_seconds: float) -> bool:
    """oneDNN? The kind's DEFAULT, unless the other library took under 1 / MARGIN of its time."""
    if DEFAULT[kind]:
        return onednn_seconds < MARGIN * mkl_seconds
    return mkl_seconds >= MARGIN * onednn_seconds


def _seconds(product, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        product()
    return time.perf_counter() - start
