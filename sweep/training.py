"""The training loop of one trial: micro batches, accumulation, OOM fallback, eval, pruning.

Read top to bottom: `Trainer.fit()` runs `total_steps` optimizer steps. Step k always consumes
the same `effective_batch_size` examples (a seeded order that does not depend on the micro
batch), and the loss is normalised over the whole effective batch, so halving the micro batch
and doubling accumulation after an out-of-memory error changes neither the gradient, the
learning-rate schedule nor the step count (../shared/DESIGN.md decision 5).
"""

from __future__ import annotations

import gc
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from sweep import fault_injection, noise, schedules
from sweep.batches import answer_logits, collate, supports_logits_to_keep
from sweep.errors import OutOfMemoryAtMinimum, TrialDiverged, TrialPruned
from sweep.memory import largest_divisor_at_most, peak_memory_mb
from sweep.objectives import IGNORE, nll_per_row, nll_sum, orpo_odds_ratio_loss, token_logprobs


class Reporter(Protocol):
    """How a trial talks to the study, whatever process it runs in."""

    def report(self, step: int, value: float) -> None: ...
    def should_prune(self) -> bool: ...
    def set_attrs(self, attrs: dict[str, Any]) -> None: ...
    def progress(self, info: dict[str, Any]) -> None: ...


class NullReporter:
    def report(self, step: int, value: float) -> None:
        pass

    def should_prune(self) -> bool:
        return False

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        pass

    def progress(self, info: dict[str, Any]) -> None:
        pass


@dataclass
class TrainResult:
    final_eval_loss: float
    best_eval_loss: float
    steps: int
    eval_history: list[tuple[int, float]]
    train_loss_history: list[tuple[int, float]]
    train_tokens: int
    train_time_s: float
    eval_time_s: float
    micro_batch_size: int
    gradient_accumulation_steps: int
    fallbacks: list[dict[str, int]] = field(default_factory=list)
    peak_memory_mb: float = 0.0
    branch_steps: int = 0  # optimizer steps spent in cooldown branches (not in `steps`)
    prefix_history: list[tuple[int, float]] = field(default_factory=list)  # main run at branched rungs

    @property
    def tokens_per_s(self) -> float:
        return self.train_tokens / self.train_time_s if self.train_time_s > 0 else 0.0


def next_micro_batch(effective: int, micro: int) -> int | None:
    """The seed's rule: halve the micro batch (staying a divisor of the effective batch)."""
    if micro <= 1:
        return None
    return largest_divisor_at_most(effective, micro // 2)


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass
class TrainSpec:
    """What the loop needs from the sampled settings (derived by trial.py)."""

    learning_rate: float
    weight_decay: float
    warmup_ratio: float
    lr_scheduler: str
    optimizer: str
    max_grad_norm: float
    effective_batch_size: int
    micro_batch_size: int
    total_steps: int
    eval_every: int
    seed: int
    objective: str = "sft"
    orpo_lambda: float = 0.1
    divergence_factor: float = 3.0
    eval_batch_size: int | None = None  # None: the micro batch
    answer_logits_only: bool = True  # the LM head only where a labelled token is predicted
    # Fidelity: at each eval report before the end (a WSD run: before its decay), report the loss
    # after a `cooldown_steps`-step decay branch instead of the main run's (0: no branches).
    cooldown_steps: int = 0
    eval_prefix_at_branches: bool = False  # also evaluate the main run there (benchmark tables)
    # float16 weights (a GPU without bfloat16: T4, V100): train under float16 autocast with loss
    # scaling, or small gradients underflow to zero (`mixed_precision`)
    fp16_mixed_precision: bool = False


def mixed_precision(device: torch.device, compute_dtype: torch.dtype) -> bool:
    """Whether a trial trains with float16 autocast and a gradient scaler: a float16 compute
    dtype (`model.dtype`, also QLoRA's) on a GPU. bfloat16 (same exponent range as float32) and
    float32 need neither; float16 on a CPU is refused before any work
    (`backends.check_model_runs_here`)."""
    return device.type == "cuda" and compute_dtype == torch.float16


class Trainer:
    def __init__(self, model, train_data: list[dict], eval_data: list[dict], spec: TrainSpec,
                 pad_id: int, reporter: Reporter, device: torch.device):
        self.model = model
        self.train_data = train_data
        self.eval_data = eval_data
        self.spec = spec
        self.pad_id = pad_id
        self.reporter = reporter
        self.device = device
        self.micro = spec.micro_batch_size
        self.answers_only = spec.answer_logits_only and supports_logits_to_keep(model)
        # float16: autocast + loss scaling; otherwise both are pass-throughs (enabled=False)
        self.fp16 = spec.fp16_mixed_precision
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.fp16)
        self.eval_batch = spec.eval_batch_size or spec.micro_batch_size  # halves on OOM in eval
        # running totals, so a pruned or failed trial still records what it ran
        self.step = 0
        self.steps_done = 0
        self.train_tokens = 0
        self.train_time_s = 0.0
        self.eval_time_s = 0.0
        self.fallbacks: list[dict[str, Any]] = []
        self.branch_steps = 0
        self.in_branch = False  # inside a cooldown branch (its OOM fallbacks say so)
        self.prefix_history: list[tuple[int, float]] = []
        # every eval's per-row NLL sums, keyed "main:STEP" / "branch:STEP" / "prefix:STEP", and
        # "tokens": each row's label count (the same rows in every trial: sweep.noise pairs them)
        self.eval_rows: dict[str, list[float]] = {}
        self._rows_sent: set[str] = set()  # reported already (each is its own user attr: sweep.noise)
        self.last_eval_rows: list[float] = []
        # test hooks (sweep.fault_injection), off unless their variables are set
        self.oom_fault = fault_injection.OomFault.from_env()
        self.fault_nan_at = fault_injection.nan_from_step()

    # ------------------------------------------------------------------ setup
    def _optimizer(self):
        params = [p for p in self.model.parameters() if p.requires_grad]
        s = self.spec
        if s.optimizer == "sgd":
            return torch.optim.SGD(params, lr=s.learning_rate, weight_decay=s.weight_decay)
        if s.optimizer in ("adamw_8bit", "paged_adamw_8bit"):
            import bitsandbytes as bnb  # GPU installs only

            cls = bnb.optim.PagedAdamW8bit if s.optimizer.startswith("paged") else bnb.optim.AdamW8bit
            return cls(params, lr=s.learning_rate, weight_decay=s.weight_decay)
        fused = s.optimizer == "adamw_torch_fused" and self.device.type == "cuda"
        return torch.optim.AdamW(params, lr=s.learning_rate, weight_decay=s.weight_decay, fused=fused)

    def _order(self) -> list[int]:
        """The example order of the whole run: seeded epochs, independent of the micro batch."""
        # a cooldown branch at the last rung reads up to `cooldown_steps` batches past the end
        need = (self.spec.total_steps + self.spec.cooldown_steps) * self.spec.effective_batch_size
        rng = random.Random(self.spec.seed)
        order: list[int] = []
        while len(order) < need:
            perm = list(range(len(self.train_data)))
            rng.shuffle(perm)
            order += perm
        return order[:need]

    # ------------------------------------------------------------------ the loop
    def fit(self) -> TrainResult:
        s = self.spec
        optimizer = self._optimizer()
        warmup = schedules.warmup_steps(s.warmup_ratio, s.total_steps)
        scheduler = schedules.make(s.lr_scheduler, optimizer, warmup, s.total_steps)
        branch_until = schedules.stable_until(s.lr_scheduler, warmup, s.total_steps)
        order = self._order()
        evals: list[tuple[int, float]] = []
        own: list[float] = []  # the run's own eval losses (not a cooldown branch's): best_eval_loss
        losses: list[tuple[int, float]] = []
        first_loss: float | None = None
        self.model.train()
        for step in range(1, s.total_steps + 1):
            self.step = step
            loss = self._train_step(optimizer, self._batch(order, step))
            scheduler.step()
            self.steps_done = step
            if self.fault_nan_at and step >= self.fault_nan_at:
                loss = float("nan")
            losses.append((step, loss))
            if not math.isfinite(loss):
                raise TrialDiverged(f"training loss is {loss} at step {step}")
            if first_loss is None:
                first_loss = loss
            elif loss > s.divergence_factor * first_loss:
                raise TrialDiverged(f"training loss {loss:.3g} at step {step} exceeds "
                                    f"{s.divergence_factor:g}x the first loss {first_loss:.3g}")
            if step % s.eval_every == 0 or step == s.total_steps:
                branch = s.cooldown_steps > 0 and step < s.total_steps and step <= branch_until
                if branch and s.eval_prefix_at_branches:
                    self.prefix_history.append((step, self._timed_eval(step, "prefix")))
                value = (self._cooldown_branch(optimizer, order, step) if branch
                         else self._timed_eval(step, "main"))
                evals.append((step, value))
                if not branch:
                    own.append(value)
                if not math.isfinite(value):
                    raise TrialDiverged(f"eval loss is {value} at step {step}")
                self.reporter.report(step, value)
                self.reporter.set_attrs(noise.as_attrs({k: v for k, v in self.eval_rows.items()
                                                        if k not in self._rows_sent}))
                self._rows_sent.update(self.eval_rows)
                self.reporter.progress({"step": step, "total_steps": s.total_steps, "eval_loss": value,
                                        "train_loss": loss, "micro_batch_size": self.micro,
                                        "branch_steps": self.branch_steps})
                if step < s.total_steps and self.reporter.should_prune():
                    raise TrialPruned(f"pruned at step {step} (eval loss {value:.4f})")
        return TrainResult(
            final_eval_loss=evals[-1][1], best_eval_loss=min(own), steps=s.total_steps,
            eval_history=evals, train_loss_history=losses, train_tokens=self.train_tokens,
            train_time_s=self.train_time_s, eval_time_s=self.eval_time_s, micro_batch_size=self.micro,
            gradient_accumulation_steps=s.effective_batch_size // self.micro, fallbacks=self.fallbacks,
            peak_memory_mb=peak_memory_mb(self.device), branch_steps=self.branch_steps,
            prefix_history=list(self.prefix_history),
        )

    def _batch(self, order: list[int], step: int) -> list[dict]:
        """The examples of optimizer step `step` (1-based): the same in every trial with this seed."""
        n = self.spec.effective_batch_size
        return [self.train_data[i] for i in order[(step - 1) * n: step * n]]

    def _train_step(self, optimizer, batch: list[dict]) -> float:
        """One optimizer step over the effective batch (with OOM fallback); returns its loss."""
        s = self.spec
        t0 = time.perf_counter()
        while True:
            oom = False
            try:
                loss, n_tok = self._accumulate(batch)
            except Exception as exc:  # noqa: BLE001 - only OOM is handled, the rest re-raised
                if not is_oom(exc):
                    raise
                oom = True  # handled below: inside `except`, the traceback holds the activations
            if not oom:
                break
            # the whole step again at a smaller micro batch: drop its partial gradients
            optimizer.zero_grad(set_to_none=True)
            free_memory()
            smaller = next_micro_batch(s.effective_batch_size, self.micro)
            if smaller is None:
                raise OutOfMemoryAtMinimum(f"out of memory at micro batch 1 (step {self.step})")
            where = {"phase": "cooldown_branch"} if self.in_branch else {}  # the main run's step it forked at
            self.fallbacks.append({"step": self.step, **where, "from_micro_batch": self.micro,
                                   "to_micro_batch": smaller})
            self.micro = smaller
        self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        if s.max_grad_norm and s.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad],
                                           s.max_grad_norm)
        self.scaler.step(optimizer)  # skipped (and the scale lowered) when a gradient overflowed
        self.scaler.update()
        optimizer.zero_grad(set_to_none=True)
        self.train_time_s += time.perf_counter() - t0
        self.train_tokens += n_tok
        return loss

    def _timed_eval(self, step: int, kind: str) -> float:
        t1 = time.perf_counter()
        value = self.evaluate()
        self.eval_time_s += time.perf_counter() - t1
        self.eval_rows[f"{kind}:{step}"] = [round(x, 5) for x in self.last_eval_rows]
        return value

    def _cooldown_branch(self, optimizer, order: list[int], step: int) -> float:
        """The loss this run would reach if its schedule ended now (Hägele et al., 2024).

        Forks the trainable weights, the optimizer state (with its learning rates) and the RNG,
        trains `cooldown_steps` more steps on the batches that come next while the learning rate
        decays linearly from its current value (`schedules.cooldown_factors`), evaluates, and
        restores the fork: the main run continues exactly as if there had been no branch
        (tests/test_cooldown.py checks it bit for bit). An out-of-memory fallback inside a branch
        keeps its smaller micro batch afterwards, as one in the main run would: the gradients are
        the same, summed in other chunks. Branch steps are counted in `branch_steps` and in the
        trial's train time and tokens: they are compute it paid for.
        """
        import copy

        s = self.spec
        params = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        weights = {n: p.detach().clone() for n, p in params.items()}
        opt_state = copy.deepcopy(optimizer.state_dict())
        scaler_state = copy.deepcopy(self.scaler.state_dict())
        rng = torch.get_rng_state()
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.in_branch = True
        try:
            for j, factor in enumerate(schedules.cooldown_factors(s.cooldown_steps)):
                for g, lr in zip(optimizer.param_groups, base_lrs, strict=True):
                    g["lr"] = lr * factor
                loss = self._train_step(optimizer, self._batch(order, step + 1 + j))
                self.branch_steps += 1
                if not math.isfinite(loss):
                    raise TrialDiverged(f"training loss is {loss} in the cooldown branch at step {step}")
            return self._timed_eval(step, "branch")
        finally:
            self.in_branch = False
            with torch.no_grad():
                for n, p in params.items():
                    p.copy_(weights[n])
            optimizer.load_state_dict(opt_state)
            self.scaler.load_state_dict(scaler_state)
            torch.set_rng_state(rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state_all(cuda_rng)

    def _accumulate(self, batch: list[dict]) -> tuple[float, int]:
        """Forward/backward over micro batches; returns the step's loss and token count."""
        s = self.spec
        n_tokens = sum(sum(1 for y in e["labels"][1:] if y != IGNORE) for e in batch)
        n_tokens = max(n_tokens, 1)
        total = 0.0
        for start in range(0, len(batch), self.micro):
            if self._fault("forward", self.micro):
                raise torch.OutOfMemoryError(self._fault_text())
            chunk = batch[start: start + self.micro]
            if s.objective == "orpo":
                loss = self._orpo_loss(chunk, n_tokens, len(batch))
                in_graph = loss
            else:
                b = self._to_device(collate(chunk, self.pad_id))
                with self._autocast():
                    logits, labels = answer_logits(self.model, b, self.answers_only)
                nll, _ = nll_sum(logits, labels)
                loss = nll / n_tokens
                in_graph = logits
            if self._fault("backward", self.micro):
                in_graph.register_hook(self._raise_oom)  # fires inside backward, mid-graph
            self.scaler.scale(loss).backward()
            total += float(loss.detach())
        # tokens processed: both sequences of an ORPO pair count
        return total, sum(len(e["input_ids"]) + len(e.get("rejected_input_ids", ())) for e in batch)

    def _orpo_loss(self, chunk: list[dict], n_tokens: int, batch_size: int) -> torch.Tensor:
        chosen = self._to_device(collate(chunk, self.pad_id))
        rejected = self._to_device(collate(chunk, self.pad_id, prefix="rejected_"))
        with self._autocast():
            c_logits = self.model(input_ids=chosen["input_ids"], attention_mask=chosen["attention_mask"]).logits
            r_logits = self.model(input_ids=rejected["input_ids"], attention_mask=rejected["attention_mask"]).logits
        c_sum, c_n = token_logprobs(c_logits, chosen["labels"])
        r_sum, r_n = token_logprobs(r_logits, rejected["labels"])
        odds = orpo_odds_ratio_loss(c_sum / c_n.clamp(min=1), r_sum / r_n.clamp(min=1))
        return (-c_sum.sum()) / n_tokens + self.spec.orpo_lambda * odds.sum() / batch_size

    def _fault(self, phase: str, size: int) -> bool:
        """Whether the injected out-of-memory test hook fires here (sweep.fault_injection)."""
        return self.oom_fault.fires(phase, size, self.step)

    def _fault_text(self) -> str:
        return self.oom_fault.message(self.step)

    def _raise_oom(self, grad: torch.Tensor) -> None:
        raise torch.OutOfMemoryError(self._fault_text() + " (backward)")

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.float16, enabled=self.fp16)

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device) for k, v in batch.items()}

    def stats(self) -> dict[str, Any]:
        """What the trial ran so far: recorded on pruned and failed trials too."""
        return {"steps": self.steps_done, "branch_steps": self.branch_steps,
                "prefix_history": list(self.prefix_history),
                "tokens_per_s": round(self.train_tokens / self.train_time_s, 1) if self.train_time_s > 0 else 0.0,
                "train_time_s": round(self.train_time_s, 3), "eval_time_s": round(self.eval_time_s, 3),
                "peak_memory_mb": round(peak_memory_mb(self.device), 1), "oom_fallbacks": list(self.fallbacks)}

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean NLL per answer token on the eval split (same for every objective).

        Eval runs in chunks of `eval_batch` examples (the eval batch size, else the micro
        batch); out of memory in a chunk halves it and repeats that chunk (sums over tokens: the
        value does not depend on the chunking); out of memory at 1 fails the trial as "oom".
        """
        self.model.eval()
        total, count = 0.0, 0
        rows: list[float] = []
        tokens: list[int] = []
        start = 0
        try:
            while start < len(self.eval_data):
                follow = self.spec.eval_batch_size is None  # the micro batch, also after a fallback
                size = max(min(self.eval_batch, self.micro) if follow else self.eval_batch, 1)
                oom = False
                try:
                    if self._fault("eval", size):
                        raise torch.OutOfMemoryError(self._fault_text() + " (eval)")
                    b = self._to_device(collate(self.eval_data[start: start + size], self.pad_id))
                    with self._autocast():
                        logits, labels = answer_logits(self.model, b, self.answers_only)
                    row_nll, row_n = nll_per_row(logits, labels)  # the report is their sum: one pass
                    total += sum(row_nll)
                    count += sum(row_n)
                    rows += row_nll
                    tokens += row_n
                    del b, logits, labels  # the next chunk gets this chunk's memory
                except Exception as exc:  # noqa: BLE001 - only OOM is handled, the rest re-raised
                    if not is_oom(exc):
                        raise
                    oom = True  # handled below, once the traceback no longer holds the tensors
                if not oom:
                    start += size
                    continue
                free_memory()
                if size <= 1:
                    raise OutOfMemoryAtMinimum(f"out of memory in eval at batch 1 (step {self.step})")
                self.fallbacks.append({"step": self.step, "phase": "eval", "from_eval_batch": size,
                                       "to_eval_batch": size // 2})
                self.eval_batch = size // 2
        finally:
            self.model.train()
        self.last_eval_rows = rows
        self.eval_rows["tokens"] = tokens
        return total / max(count, 1)
