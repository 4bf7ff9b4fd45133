"""ORPO (objective=orpo): the loss against hand-computed values and TRL, micro-batch invariance
of a step for both objectives, comparable eval losses, preference-row validation, and a tiny
ORPO sweep with lambda searched.

ORPO (Hong et al., 2024): L = NLL(chosen) + lambda * -log sigmoid(log odds(y_w) - log odds(y_l)),
odds(y) = P / (1 - P), P = exp(mean token log-prob of y). The trainer normalises the NLL over
the effective batch's chosen-answer tokens and the odds-ratio term over its pairs.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from sweep.errors import ConfigError
from sweep.objectives import IGNORE, log1mexp, orpo_odds_ratio_loss, token_logprobs
from sweep.training import NullReporter, Trainer, TrainSpec

SYSTEM = "You are a concise assistant. Answer in one sentence."  # the chat sample's system prompt
N_ANSWERABLE = 52  # sample_data: the first 52 eval rows of every format are the answerable ones


def _orpo_by_hand(p_chosen: float, p_rejected: float) -> float:
    """-log sigmoid(log(odds_w / odds_l)) with odds = p / (1 - p), in plain floats."""
    ratio = (p_chosen / (1 - p_chosen)) / (p_rejected / (1 - p_rejected))
    return -math.log(1 / (1 + 1 / ratio))


def _spec(**kw) -> TrainSpec:
    base = dict(learning_rate=0.5, weight_decay=0.0, warmup_ratio=0.0, lr_scheduler="constant",
                optimizer="sgd", max_grad_norm=1.0, effective_batch_size=4, micro_batch_size=4,
                total_steps=2, eval_every=100, seed=0, objective="orpo", orpo_lambda=0.5)
    return TrainSpec(**{**base, **kw})


# --------------------------------------------------------------------------- the loss by hand


def test_odds_ratio_term_matches_hand_computed_values():
    # p_w = 0.6, p_l = 0.3: odds 1.5 and 3/7, ratio 3.5, loss = log(1 + 1/3.5) = log(9/7).
    # Equal probabilities: ratio 1, loss log 2. A worse chosen answer costs more than log 2.
    pairs = [(0.6, 0.3), (0.5, 0.5), (0.2, 0.7), (0.999, 0.001)]
    chosen = torch.tensor([math.log(p) for p, _ in pairs])
    rejected = torch.tensor([math.log(q) for _, q in pairs])
    got = orpo_odds_ratio_loss(chosen, rejected)
    by_hand = [_orpo_by_hand(p, q) for p, q in pairs]
    assert math.isclose(by_hand[0], math.log(9 / 7), rel_tol=1e-12)
    assert math.isclose(by_hand[1], math.log(2), rel_tol=1e-12)
    assert by_hand[2] > math.log(2)
    torch.testing.assert_close(got, torch.tensor(by_hand), rtol=1e-5, atol=1e-6)


def test_log1mexp_is_accurate_near_zero_in_float32():
    # A memorised chosen answer has a mean token log-prob close to 0, where log1p(-exp(x))
    # cancels (error ~1e-2 at -1e-6 in float32); the log odds must stay accurate there.
    xs = [-1e-6, -1e-5, -1e-3, -0.5, -math.log(2), -0.7, -5.0, -30.0]
    got = log1mexp(torch.tensor(xs, dtype=torch.float32))
    want = torch.tensor([math.log(-math.expm1(x)) for x in xs], dtype=torch.float64)
    torch.testing.assert_close(got.double(), want, rtol=2e-6, atol=1e-6)


def test_token_logprobs_hand_computed():
    # One sequence of 4 tokens over a vocabulary of 3; labels shift by one, -100 is skipped.
    logits = torch.tensor([[[1.0, 2.0, 0.5], [0.0, 0.0, 3.0], [2.0, 1.0, 1.0], [0.3, 0.2, 0.1]]])
    labels = torch.tensor([[IGNORE, 1, 2, 0]])
    total, count = token_logprobs(logits, labels)

    def logp(row: list[float], k: int) -> float:
        return row[k] - math.log(sum(math.exp(v) for v in row))

    rows = logits[0].tolist()
    want = logp(rows[0], 1) + logp(rows[1], 2) + logp(rows[2], 0)  # position t predicts t + 1
    assert count.tolist() == [3]
    assert math.isclose(total.item(), want, rel_tol=1e-6)


class _TableModel(torch.nn.Module):
    """logits[t] = table[input_ids[t]]: every log-prob can be computed by hand from the table."""

    def __init__(self, vocab: int = 5):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.table = torch.nn.Parameter(torch.randn(vocab, vocab, generator=g))

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.table[input_ids])


def _pairs() -> list[dict[str, list[int]]]:
    # prompt tokens are unlabelled; chosen and rejected answers differ in length
    return [
        {"input_ids": [0, 1, 2, 3], "labels": [IGNORE, IGNORE, 2, 3],
         "rejected_input_ids": [0, 1, 4], "rejected_labels": [IGNORE, IGNORE, 4]},
        {"input_ids": [0, 3, 1], "labels": [IGNORE, IGNORE, 1],
         "rejected_input_ids": [0, 3, 2, 2, 4], "rejected_labels": [IGNORE, IGNORE, 2, 2, 4]},
    ]


def test_trainer_orpo_loss_matches_hand_computation():
    model = _TableModel()
    table = model.table.detach().tolist()
    lam = 0.5
    trainer = Trainer(model, [], [], _spec(orpo_lambda=lam), pad_id=0, reporter=NullReporter(),
                      device=torch.device("cpu"))

    def answer_logps(ids: list[int], labels: list[int]) -> list[float]:
        out = []
        for t in range(1, len(ids)):
            if labels[t] != IGNORE:
                row = table[ids[t - 1]]
                out.append(row[labels[t]] - math.log(sum(math.exp(v) for v in row)))
        return out

    pairs = _pairs()
    nll, n_tokens, odds_terms = 0.0, 0, []
    for e in pairs:
        c = answer_logps(e["input_ids"], e["labels"])
        r = answer_logps(e["rejected_input_ids"], e["rejected_labels"])
        nll -= sum(c)
        n_tokens += len(c)
        odds_terms.append(_orpo_by_hand(math.exp(sum(c) / len(c)), math.exp(sum(r) / len(r))))
    want = nll / n_tokens + lam * sum(odds_terms) / len(pairs)

    got = trainer._orpo_loss(pairs, n_tokens, len(pairs))
    assert math.isclose(got.item(), want, rel_tol=1e-5)
    # Split into micro batches of 1, the parts add up to the whole (same normalisers).
    parts = sum(trainer._orpo_loss([e], n_tokens, len(pairs)).item() for e in pairs)
    assert math.isclose(parts, want, rel_tol=1e-5)


def test_matches_trl_orpo():
    orpo = pytest.importorskip("trl.experimental.orpo.orpo_trainer",
                               reason="TRL is optional (pip install trl)")
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 7, 11, generator=g)
    labels = torch.randint(0, 11, (3, 7), generator=g)
    labels[:, :3] = IGNORE  # prompt
    labels[1, 5:] = IGNORE  # padding of a shorter answer
    total, count = token_logprobs(logits, labels)
    trl_mean = orpo.ORPOTrainer.get_batch_logps(logits, labels, average_log_prob=True)
    torch.testing.assert_close(total / count, trl_mean, rtol=1e-5, atol=1e-6)

    chosen = torch.tensor([-0.2, -1.5, -1e-5, -3.0])
    rejected = torch.tensor([-0.9, -0.4, -2.0, -3.0])
    lam = 0.3
    fake_self = SimpleNamespace(beta=lam, accelerator=SimpleNamespace(device="cpu"))
    trl_losses = orpo.ORPOTrainer.odds_ratio_loss(fake_self, chosen, rejected)[0]
    # TRL returns lambda * log sigmoid(.) and subtracts its mean from the NLL.
    torch.testing.assert_close(lam * orpo_odds_ratio_loss(chosen, rejected), -trl_losses, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- tiny real models


def _load(overrides: list[str], r: int = 4):
    """Config, PEFT model, tokenizer, encoded train and eval rows (the trial's own path)."""
    from sweep import backends, data, models, templates
    from sweep.backends.peft import LoraSettings
    from sweep.config import load_config

    cfg = load_config([*overrides, "eval.behaviour=false"])
    lora = LoraSettings(r=r, alpha=2 * r, dropout=0.0,
                        target_modules=tuple(cfg.model.target_modules["all_linear"]))
    model, tok = backends.get("peft").load(models.resolve(cfg.model), cfg.model, lora, False,
                                           cfg.data.max_seq_len)
    tpl = templates.apply_template(tok, cfg.data.chat_template)
    train_rows, eval_rows = data.load_splits(cfg.data, cfg.seed)
    enc = data.Encoder(tok, cfg.data, tpl.end_of_turn)
    return cfg, model, tok, *data.encode_splits(enc, cfg.objective, train_rows, eval_rows)


@pytest.fixture(scope="module")
def pref_setup():
    return _load(["data=sample_preferences", "objective=orpo"])


def _train_from(model, init: dict[str, torch.Tensor], train, tok, spec: TrainSpec) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in init:
                p.copy_(init[name])
    Trainer(model, train, [], spec, tok.pad_token_id, NullReporter(), torch.device("cpu")).fit()
    return {n: p.detach().clone() for n, p in model.named_parameters() if n in init}


@pytest.mark.parametrize("objective", ["sft", "orpo"])
def test_step_is_independent_of_the_micro_batch(pref_setup, objective):
    """Two optimizer steps on micro batches of 1, 2 and 4 give the same adapter.

    SGD, not AdamW: Adam divides each coordinate by its own gradient scale, so float noise in
    a near-zero coordinate would become a full lr-sized step and hide the property under test.
    The preference rows carry the chosen sequence under the SFT keys, so sft trains on them too.
    """
    _, model, tok, train, _ = pref_setup
    init = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    after = {m: _train_from(model, init, train[:8], tok, _spec(objective=objective, micro_batch_size=m))
             for m in (1, 2, 4)}
    moved = max((after[1][n] - init[n]).abs().max().item() for n in init)
    assert moved > 1e-3  # the steps did something, so equality below is not vacuous
    for m in (2, 4):
        for n in init:
            torch.testing.assert_close(after[m][n], after[1][n], rtol=1e-5, atol=1e-6)


def test_orpo_with_lambda_zero_is_sft_on_chosen(pref_setup):
    _, model, tok, train, _ = pref_setup
    init = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    sft = _train_from(model, init, train[:8], tok, _spec(objective="sft", micro_batch_size=2))
    orpo0 = _train_from(model, init, train[:8], tok, _spec(objective="orpo", orpo_lambda=0.0, micro_batch_size=2))
    for n in init:
        torch.testing.assert_close(orpo0[n], sft[n], rtol=1e-5, atol=1e-6)


class _Recorder:
    def __init__(self):
        self.attrs: dict = {}
        self.reports: list = []

    def report(self, step, value):
        self.reports.append((step, value))

    def should_prune(self):
        return False

    def progress(self, info):
        pass

    def set_attrs(self, attrs):
        self.attrs.update(attrs)


def _eval_tokens_of_a_trial(monkeypatch, overrides: list[str]) -> tuple[list[int], list[float]]:
    """Run one 1-step trial; return the label tokens its eval loss averaged over, and its reports."""
    import sweep.objectives
    import sweep.training
    from sweep.config import load_config
    from sweep.search_space import TrialParams
    from sweep.trial import run_trial

    seen: list[int] = []
    real = sweep.objectives.nll_per_row  # the original, also when an earlier call patched sweep.training

    def recording(logits, labels):
        if not torch.is_grad_enabled():  # evaluate() runs under no_grad; training does not
            shifted = labels[:, 1:]
            seen.extend(shifted[shifted != IGNORE].tolist())
        return real(logits, labels)

    monkeypatch.setattr(sweep.training, "nll_per_row", recording)  # what evaluate() scores with
    cfg = load_config([*overrides, "eval.behaviour=false", "train.eval_every=1"])
    rec = _Recorder()
    run_trial(cfg, TrialParams(max_steps=1, effective_batch_size=4, lora_r=4), rec)
    return seen, [v for _, v in rec.reports]


def test_sft_and_orpo_trials_report_eval_loss_on_the_same_tokens(monkeypatch):
    """Same held-out rows, same tokens: the chat sample for sft, the preference sample for orpo."""
    sft_tokens, sft_reports = _eval_tokens_of_a_trial(monkeypatch, [])
    orpo_tokens, orpo_reports = _eval_tokens_of_a_trial(monkeypatch, ["data=sample_preferences", "objective=orpo"])
    assert len(sft_reports) == len(orpo_reports) == 1
    assert len(sft_tokens) == len(orpo_tokens) > 0
    assert sft_tokens == orpo_tokens


def test_shipped_preference_eval_skips_unanswerable_rows_like_chat():
    from transformers import AutoTokenizer

    from sweep import data, models, templates
    from sweep.config import load_config

    counts = []
    for overrides in ([], ["data=sample_preferences", "objective=orpo"]):
        cfg = load_config([*overrides, "eval.behaviour=false"])
        tok = AutoTokenizer.from_pretrained(models.resolve(cfg.model))
        tpl = templates.apply_template(tok, cfg.data.chat_template)
        _, eval_rows = data.load_splits(cfg.data, cfg.seed)
        counts.append(len(data.encode_rows(data.Encoder(tok, cfg.data, tpl.end_of_turn), eval_rows, "eval")))
    assert counts[0] == counts[1]


# --------------------------------------------------------------------------- data validation


def test_bad_preference_rows_name_file_and_line(tmp_path: Path):
    from sweep import data

    good = {"prompt": "Q?", "chosen": "Right.", "rejected": "Wrong."}
    rows = [good, {**good, "rejected": " Right. "}, {"prompt": "Q?", "chosen": "Right."},
            {**good, "chosen": ""}]
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ConfigError) as err:
        data.read_rows(str(path), "preference", "data.path")
    msg = err.value.message()
    assert f"{path}:2" in msg and "identical" in msg
    assert f"{path}:3" in msg and "'rejected'" in msg
    assert f"{path}:4" in msg and "'chosen'" in msg
    assert f"{path}:1" not in msg


def test_bad_preference_file_stops_the_sweep_before_anything_is_written(tmp_path: Path):
    from sweep import engine
    from sweep.config import load_config

    path = tmp_path / "prefs.jsonl"
    path.write_text(json.dumps({"prompt": "Q?", "chosen": "Same.", "rejected": "Same."}) + "\n")
    out = tmp_path / "out"
    cfg = load_config(["data=sample_preferences", "objective=orpo", "search_space=orpo",
                       f"data.path={path}", f"output_dir={out}", "eval.behaviour=false"])
    with pytest.raises(ConfigError, match=f"{path}:1"):
        engine.run(cfg)
    assert not out.exists()


# --------------------------------------------------------------------------- a tiny ORPO sweep


def test_tiny_orpo_sweep_searches_lambda(tmp_path: Path):
    from sweep import engine
    from sweep.config import load_config

    cfg = load_config(["data=sample_preferences", "objective=orpo", "search_space=orpo", "n_trials=2",
                       f"output_dir={tmp_path}", "study_name=orpo", "eval.behaviour=false",
                       "train.num_threads=1", "+fixed.max_steps=4", "train.eval_every=2",
                       f"data.max_eval_examples={N_ANSWERABLE}"])
    summary = engine.run(cfg)
    assert summary.counts["COMPLETE"] == 2
    study_dir = tmp_path / "orpo"
    with open(study_dir / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    lambdas = [float(r["orpo_lambda"]) for r in rows if r.get("orpo_lambda")]
    assert len(lambdas) == 2 and all(0.02 <= v <= 2.0 for v in lambdas)
    assert math.isclose(lambdas[0], 0.1)  # the enqueued paper value runs first
    assert all(math.isfinite(float(r["value"])) for r in rows)
    assert (study_dir / "best.yaml").is_file()
