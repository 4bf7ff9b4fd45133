"""The use cases `python -m sweep.plan` knows: for each, what to try before fine-tuning, the data
it needs, the objective, the search space, its pitfalls and where docs/ROADMAP.md gives the
evidence. `sweep.planning` sizes a sweep for one of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UseCase:
    """One use case: what to try first, the data, the objective, the space and the traps."""

    name: str
    title: str
    before_finetuning: str
    data: str
    data_preset: str  # conf/data/<preset>.yaml: a shipped set in the format this use case needs
    objective: str  # sft | orpo
    search_space: str  # search_spaces/<name>.yaml
    epochs: int
    pitfalls: tuple[str, ...]
    anchor: str  # section of docs/ROADMAP.md
    full_pass: bool = False  # a trial must see the whole training set (facts), never a prefix


COMMON_PITFALLS = (
    "end token: every answer must end with the end-of-turn/eos token in the labels "
    "(data.add_eos=true, the default), or the model never learns to stop",
    "template mismatch: serve with the chat template the adapter was trained with (it is saved "
    "in best_adapter/); for alpaca/completion data leave chat_template out of the Axolotl export",
    "OOM: lower the micro batch and raise gradient accumulation by the same factor (the "
    "effective batch, lr schedule and step count stay the same); the engine does this itself",
)

USE_CASES: dict[str, UseCase] = {
    "knowledge": UseCase(
        name="knowledge",
        title="knowledge injection: answer questions about facts the base model does not know",
        before_finetuning="retrieval (RAG) first: it beat fine-tuning for both known and new "
        "facts (Ovadia et al. 2024) and updates without retraining; for a handful of facts, "
        "model editing (MEMIT/EasyEdit) is cheaper than a sweep",
        data="question/answer pairs, >= 5 paraphrased questions per fact (wording, order, "
        "question form) and held-out paraphrases for eval (never a training phrasing); a few "
        "unanswerable questions with 'I don't know.' to measure hallucination",
        data_preset="sample_chat",
        objective="sft",
        search_space="knowledge",
        epochs=3,
        pitfalls=(
            "unknown facts are fitted slowly and raise hallucination as they are "
            "(Gekhman et al. 2024): judge on held-out paraphrases and let the pruner stop early",
            "without paraphrase augmentation facts are memorised but not extractable "
            "(Physics of LMs 3.1: 0% accuracy without augmentation)",
        ),
        anchor="knowledge-injection",
        full_pass=True,
    ),
    "style": UseCase(
        name="style",
        title="style / tone / output format",
        before_finetuning="a system prompt with 3-5 examples first; fine-tune when the prompt "
        "is too long, too costly or not followed reliably",
        data="a few hundred to a few thousand input -> output pairs in the target style; hold "
        "out 10% (data.val_set_size=0.1) or a separate file",
        data_preset="sample_chat",
        objective="sft",
        search_space="style",
        epochs=2,
        pitfalls=(
            "small sets overfit: dropout/weight decay are searched, epochs are kept low",
            "the style also changes facts it touches: check answers against the base model",
        ),
        anchor="style-and-format",
    ),
    "classification": UseCase(
        name="classification",
        title="classification or structured extraction (short, checkable answers)",
        before_finetuning="few-shot prompting with constrained output (JSON schema / grammar) "
        "first; fine-tune for cost, latency or accuracy beyond it",
        data="input -> label (or JSON) pairs covering every class, balanced or reweighted by "
        "duplication; the answer is only the label so the loss is on the label tokens",
        data_preset="sample_alpaca",
        objective="sft",
        search_space="classification",
        epochs=1,
        pitfalls=(
            "eval loss over a few label tokens is noisy: keep >= 200 eval rows",
            "a missing end token makes the model continue after the label (or the JSON)",
        ),
        anchor="classification-and-extraction",
    ),
    "chat": UseCase(
        name="chat",
        title="chat / assistant behaviour (multi-turn)",
        before_finetuning="an instruct model with a system prompt first; fine-tune for a "
        "behaviour the prompt does not hold over many turns",
        data="multi-turn conversations (chat `messages`), loss on assistant turns only, the same "
        "system prompt you will serve with; quality over quantity (QLoRA/Guanaco)",
        data_preset="sample_chat",
        objective="sft",
        search_space="chat",
        epochs=2,
        pitfalls=(
            "train and serve with the same system prompt and template, or the behaviour drifts",
        ),
        anchor="chat-behaviour",
    ),
    "safety": UseCase(
        name="safety",
        title="refusal / safety behaviour (preference tuning with ORPO)",
        before_finetuning="a moderation model or a system prompt first; fine-tune when the "
        "model must refuse (or stop over-refusing) without a guard in front of it",
        data="preference pairs prompt/chosen/rejected: harmful prompts with chosen = refusal, "
        "rejected = compliance, AND benign look-alikes with chosen = a helpful answer, rejected = "
        "a refusal (or the model learns to refuse everything)",
        data_preset="sample_preferences",
        objective="orpo",
        search_space="safety",
        epochs=2,
        pitfalls=(
            "measure over-refusal on benign prompts as well as refusal on harmful ones",
            "ORPO runs two sequences per example: half the micro batch of SFT fits",
        ),
        anchor="refusal-and-safety-behaviour",
    ),
}


__all__ = ["COMMON_PITFALLS", "USE_CASES", "UseCase"]
