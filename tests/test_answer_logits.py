"""The trainer runs the LM head only where an answer token is predicted: same loss, same
gradients, same eval loss as scoring every position, with fewer logits."""

from __future__ import annotations

import pytest
import torch

from sweep.batches import answer_logits, collate, eval_loss
from sweep.objectives import IGNORE, nll_sum
from sweep.training import NullReporter, Trainer, TrainSpec


def _model():
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(config)
    model.config.use_cache = False
    return get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False))  # non-zero B: real gradients


def _rows():
    # chat-like rows: a prompt (not scored) then an answer (scored), of different lengths
    out = []
    for k, (prompt, answer) in enumerate([(14, 5), (9, 3), (20, 7), (11, 2)]):
        ids = [(7 * k + 3 * i) % 500 + 1 for i in range(prompt + answer)]
        out.append({"input_ids": ids, "labels": [IGNORE] * prompt + ids[prompt:]})
    return out


def test_answer_logits_give_the_same_loss_and_gradients_with_fewer_positions():
    model = _model()
    b = collate(_rows(), pad_id=0)
    full_logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    full, n_full = nll_sum(full_logits, b["labels"])
    full.backward()
    grads_full = {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    logits, labels = answer_logits(model, b)
    part, n_part = nll_sum(logits, labels)
    part.backward()
    # the batch's first answer token is at position 9: the head ran from position 8 on
    assert logits.shape[1] == b["input_ids"].shape[1] - 8 < full_logits.shape[1]
    assert n_part == n_full == 5 + 3 + 7 + 2
    assert float(part.detach()) == pytest.approx(float(full.detach()), rel=1e-6)
    for k, p in model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, grads_full[k], rtol=1e-5, atol=1e-7)


def test_whole_logits_when_the_first_token_is_scored_or_slicing_is_off():
    model = _model()
    rows = [{"input_ids": [5, 6, 7], "labels": [5, 6, 7]}]
    logits, labels = answer_logits(model, collate(rows, 0))
    assert logits.shape[1] == 3 and labels.shape[1] == 3
    logits, labels = answer_logits(model, collate(_rows(), 0), answers_only=False)
    assert logits.shape[1] == labels.shape[1] == 27


def test_trainer_eval_and_base_eval_loss_agree_with_or_without_slicing():
    rows = _rows()
    spec = dict(learning_rate=1e-3, weight_decay=0.0, warmup_ratio=0.0, lr_scheduler="constant",
                optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=4, micro_batch_size=2,
                total_steps=2, eval_every=1, seed=0)
    curves = []
    for only in (True, False):
        model = _model()
        trainer = Trainer(model, rows, rows, TrainSpec(**spec, answer_logits_only=only), 0, NullReporter(),
                          torch.device("cpu"))
        assert trainer.answers_only is only
        curves.append([v for _, v in trainer.fit().eval_history])
    assert curves[0] == pytest.approx(curves[1], rel=1e-5)
    model = _model()
    trainer = Trainer(model, rows, rows, TrainSpec(**spec), 0, NullReporter(), torch.device("cpu"))
    assert eval_loss(model, rows, 0, batch_size=3) == pytest.approx(trainer.evaluate(), rel=1e-6)
