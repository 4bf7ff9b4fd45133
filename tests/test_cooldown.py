"""The WSD schedule and the cooldown-branch fidelity (DESIGN.md decision 9).

A branch forks the adapter, the optimizer state and the RNG, decays the learning rate for a few
steps, evaluates, and restores the fork: the main run after a branch must be exactly the run
without branches, and the branch's steps are counted as compute."""

from __future__ import annotations

import pytest
import torch

from sweep import noise, schedules
from sweep.objectives import IGNORE
from sweep.training import NullReporter, Trainer, TrainSpec


def _model():
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(config)
    model.config.use_cache = False
    # dropout on: the branch must restore the RNG too, or the main run's dropout masks change
    return get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1,
                                            target_modules=["q_proj", "v_proj"]))


def _rows(n: int, offset: int = 0):
    out = []
    for k in range(n):
        ids = [(11 * (k + offset) + 5 * i) % 250 + 1 for i in range(12)]
        out.append({"input_ids": ids, "labels": [IGNORE] * 6 + ids[6:]})
    return out


class Recorder(NullReporter):
    def __init__(self):
        self.reports: list[tuple[int, float]] = []
        self.attrs: dict = {}

    def report(self, step, value):
        self.reports.append((step, value))

    def set_attrs(self, attrs):
        self.attrs.update(attrs)


def _fit(scheduler: str, cooldown: int, eval_prefix: bool = False):
    spec = TrainSpec(learning_rate=5e-3, weight_decay=0.0, warmup_ratio=0.1, lr_scheduler=scheduler,
                     optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=4, micro_batch_size=2,
                     total_steps=10, eval_every=2, seed=0, cooldown_steps=cooldown,
                     eval_prefix_at_branches=eval_prefix)
    rep = Recorder()
    trainer = Trainer(_model(), _rows(24), _rows(6, offset=100), spec, 0, rep, torch.device("cpu"))
    return trainer.fit(), rep, trainer


def test_the_main_run_after_cooldown_branches_is_the_run_without_them():
    plain, plain_rep, _ = _fit("wsd", 0)
    branched, rep, trainer = _fit("wsd", 2, eval_prefix=True)
    # the same training losses, step for step, and the same final eval loss: bit for bit
    assert branched.train_loss_history == plain.train_loss_history
    assert branched.final_eval_loss == plain.final_eval_loss
    # the best eval loss is the run's own (a branch's model is never saved): here only the end
    assert branched.best_eval_loss == branched.final_eval_loss
    assert plain.best_eval_loss == min(v for _, v in plain.eval_history)
    # WSD over 10 steps decays over the last 2: branches at the reports of steps 2, 4, 6, 8
    # (8 = the decay's start); the main run there, evaluated too, is the plain run's report
    assert [s for s, _ in branched.prefix_history] == [2, 4, 6, 8]
    assert branched.prefix_history == plain.eval_history[:4]
    # what the pruner saw: the branches' losses, then the real end; they differ from the prefix
    assert [s for s, _ in rep.reports] == [2, 4, 6, 8, 10]
    assert all(b != p for (_, b), (_, p) in zip(rep.reports[:4], branched.prefix_history, strict=True))
    # 4 branches x 2 steps, counted apart from the run's 10 steps
    assert branched.branch_steps == 8 and branched.steps == 10 and trainer.stats()["branch_steps"] == 8
    # per-row NLL sums of every eval, with each row's label count: the rows add up to the report
    rows = noise.rows_of(rep.attrs)
    assert set(rep.attrs) >= {"eval_rows/tokens", "eval_rows/main:10"}  # one attr per report
    assert set(rows) == {"tokens", "branch:2", "branch:4", "branch:6", "branch:8", "prefix:2", "prefix:4",
                         "prefix:6", "prefix:8", "main:10"}
    assert rows["tokens"] == [6] * 6  # 6 answer tokens per row, each predicted from the one before
    assert sum(rows["main:10"]) / sum(rows["tokens"]) == pytest.approx(branched.final_eval_loss, rel=1e-4)


def test_a_branch_costs_train_time_and_tokens():
    plain, _, _ = _fit("cosine", 0)
    branched, _, _ = _fit("cosine", 2)
    # cosine has no stable phase: a branch at every report but the last (2, 4, 6, 8)
    assert branched.branch_steps == 8
    assert branched.train_tokens == plain.train_tokens * 18 // 10
    assert branched.train_loss_history == plain.train_loss_history
    # the branch at step 8 reported a lower loss than the end, but its model is never saved:
    # the run's best eval loss is its own
    assert min(v for _, v in branched.eval_history) < branched.final_eval_loss == branched.best_eval_loss


def test_an_out_of_memory_fallback_inside_a_branch_says_so():
    """The fallback record names the phase, so a reader does not take it for the main run's
    step; the smaller micro batch stays (the same gradients, summed in other chunks)."""
    spec = TrainSpec(learning_rate=5e-3, weight_decay=0.0, warmup_ratio=0.1, lr_scheduler="wsd",
                     optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=4, micro_batch_size=2,
                     total_steps=10, eval_every=2, seed=0, cooldown_steps=2)
    trainer = Trainer(_model(), _rows(24), _rows(6, offset=100), spec, 0, Recorder(), torch.device("cpu"))

    class InBranchOnly:  # out of memory at micro batch 2, only while a branch trains
        def fires(self, phase, size, step):
            return phase == "forward" and size > 1 and trainer.in_branch

        def message(self, step):
            return f"injected in a branch at step {step}"

    trainer.oom_fault = InBranchOnly()
    result = trainer.fit()
    assert result.fallbacks == [{"step": 2, "phase": "cooldown_branch", "from_micro_batch": 2, "to_micro_batch": 1}]
    assert result.micro_batch_size == 1 and not trainer.in_branch


def test_wsd_is_warm_up_constant_then_linear_decay_to_zero():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = schedules.make("wsd", opt, warmup=2, total_steps=20)
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:3] == pytest.approx([0.0, 0.5, 1.0])
    assert lrs[2:16] == pytest.approx([1.0] * 14)  # stable until the decay's 4 steps (20%)
    assert lrs[16:] == pytest.approx([1.0, 0.75, 0.5, 0.25])
    assert schedules.stable_until("wsd", 2, 20) == 16 and schedules.stable_until("cosine", 2, 20) == 20
    assert schedules.cooldown_factors(2) == [1.0, 0.5]
