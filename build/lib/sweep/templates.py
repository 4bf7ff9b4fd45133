"""Chat templates by Axolotl's names: the Jinja text, end-of-turn markers, new-turn markers.

`chat_template` can be searched (issue: which template makes the model stop and not
hallucinate). `tokenizer_default` keeps the tokenizer's own template. Every template here is
prefix-stable (rendering the first k messages is a prefix of rendering all of them), which is
what answer-only loss masking relies on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChatTemplate:
    name: str  # Axolotl's `chat_template` value
    jinja: str | None  # None: the tokenizer's own template
    end_of_turn: tuple[str, ...] = ()  # strings that end an assistant turn
    turn_markers: tuple[str, ...] = ()  # strings that start a new turn (run-on detection)


_LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_QWEN25 = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are Qwen, created by Alibaba "
    "Cloud. You are a helpful assistant.<|im_end|>\n{% endif %}" + _CHATML
)
_PHI3 = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
_MISTRAL = (
    "{{ bos_token }}{% set sys = namespace(text='') %}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set sys.text = m['content'] + '\n\n' %}"
    "{% elif m['role'] == 'user' %}[INST] {{ sys.text }}{{ m['content'] }}[/INST]{% set sys.text = '' %}"
    "{% elif m['role'] == 'assistant' %} {{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)
_ALPACA = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}### Instruction:\n{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'assistant' %}### Response:\n{{ m['content'] }}{{ eos_token }}\n\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}### Response:\n{% endif %}"
)

TEMPLATES: dict[str, ChatTemplate] = {
    "tokenizer_default": ChatTemplate("tokenizer_default", None),
    "llama3": ChatTemplate("llama3", _LLAMA3, ("<|eot_id|>",), ("<|start_header_id|>",)),
    "chatml": ChatTemplate("chatml", _CHATML, ("<|im_end|>",), ("<|im_start|>",)),
    "qwen_25": ChatTemplate("qwen_25", _QWEN25, ("<|im_end|>",), ("<|im_start|>",)),
    "phi_3": ChatTemplate("phi_3", _PHI3, ("<|end|>",), ("<|user|>", "<|assistant|>", "<|system|>")),
    "mistral_v2v3": ChatTemplate("mistral_v2v3", _MISTRAL, ("</s>",), ("[INST]",)),
    "alpaca": ChatTemplate("alpaca", _ALPACA, ("</s>",), ("### Instruction:", "### Response:")),
}

# Special tokens of every template above: the tiny tokenizers carry all of them so that any
# template can be searched on any tiny model without resizing embeddings.
SPECIAL_TOKENS = (
    "<pad>", "<s>", "</s>", "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
    "<|end_header_id|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|user|>",
    "<|assistant|>", "<|system|>", "<|end|>", "[INST]", "[/INST]",
)


def get(name: str) -> ChatTemplate:
    return TEMPLATES[name]


def apply_template(tokenizer, name: str | None) -> ChatTemplate:
    """Make `tokenizer` render with template `name` (None / tokenizer_default: keep its own).

    Returns the template with its end-of-turn strings; for the tokenizer's own template they are
    its eos token and any known end-of-turn token it has.
    """
    if name and name != "tokenizer_default":
        tpl = TEMPLATES[name]
        tokenizer.chat_template = tpl.jinja
        eot = tuple(s.replace("</s>", tokenizer.eos_token or "</s>") if s == "</s>" else s
                    for s in tpl.end_of_turn)
        return ChatTemplate(name, tpl.jinja, eot, tpl.turn_markers)
    own = tokenizer.chat_template or ""
    eot = {tokenizer.eos_token} if tokenizer.eos_token else set()
    markers: set[str] = set()
    for tpl in TEMPLATES.values():
        for s in tpl.end_of_turn:
            if s in own:
                eot.add(s)
        for s in tpl.turn_markers:
            if s in own:
                markers.add(s)
    return ChatTemplate("tokenizer_default", own or None, tuple(sorted(eot)), tuple(sorted(markers)))
