#!/usr/bin/env python3
"""Reference renderings of real chat templates (Tests/Fixtures/chat-templates/), made with transformers' own
rendering function, for rpo's Jinja engine (Sources/RPOAlignment/Sampling/Jinja).

Versions used to make the committed files: transformers 5.25.0, jinja2 3.1.6 (Python 3.11).

  python3 scripts/make_chat_template_fixtures.py            # the committed templates
  python3 scripts/make_chat_template_fixtures.py DIR        # DIR/*.jinja into DIR/renderings.json (uncommitted
                                                            # templates; the Swift test reads DIR from
                                                            # RPO_CHAT_TEMPLATE_DIR)

Every Tests/Fixtures/chat-templates/*.jinja file (their origins are in SOURCE.md there; TOKENS also lists
the special tokens of templates that were checked but are not committed, see SOURCE.md) is rendered for each
conversation below, with add_generation_prompt false and true, by
transformers.utils.chat_template_utils.render_jinja_template, the function apply_chat_template(tokenize=False)
calls, with the template variables apply_chat_template passes: the tokenizer's special_tokens_map (bos_token,
eos_token, unk_token, pad_token, ... as each model's tokenizer_config.json declares them; listed in TOKENS)
and tools (None, or the one tool of the "tools" conversation). strftime_now() sees a fixed clock
(2026-01-15 09:30:00) so that the Llama 3.x templates render reproducibly.

FEATURES, small templates with one feature each (whitespace control, scoping, operators, filters, tests,
methods, errors), are rendered by the same compiled environment (transformers' _compile_jinja_template) into
features.json: {"now": ..., "cases": [{"template": str, "variables": {...}, "text" or "error"/"error_type"}]}.

Written: renderings.json, {"now": ..., "cases": [{"template": file, "conversation": name, "messages": [...],
"tools": [...] or null, "add_generation_prompt": bool, "variables": {...}, "text": str} or, where the
template rejects the conversation (raise_exception or another template error), {"error": message} instead
of "text", with "error_type" the Python exception's class (TemplateError for raise_exception)}]}.
"""
import datetime as real_datetime
import json
import os
import sys

import jinja2
import transformers
from transformers.utils import chat_template_utils as ctu

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "chat-templates")
NOW = real_datetime.datetime(2026, 1, 15, 9, 30, 0)

# special_tokens_map of each model's tokenizer (the named tokens that are set).
LLAMA3 = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
MISTRAL = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
TOKENS = {
    "HuggingFaceTB-SmolLM2-135M-Instruct.jinja": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                                                   "unk_token": "<|endoftext|>", "pad_token": "<|im_end|>"},
    "HuggingFaceH4-zephyr-7b-beta.jinja": {**MISTRAL, "pad_token": "</s>"},
    "meta-llama-Llama-3.1-8B-Instruct.jinja": LLAMA3,
    "meta-llama-Llama-3.2-3B-Instruct.jinja": LLAMA3,
    "meta-llama-Llama-3.3-70B-Instruct.jinja": LLAMA3,
    "mistralai-Mistral-7B-Instruct-v0.2.jinja": MISTRAL,
    "mistralai-Mistral-7B-Instruct-v0.2-v1.jinja": MISTRAL,
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": MISTRAL,
    "Qwen-Qwen2.5-7B-Instruct.jinja": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "google-gemma-2-2b-it.jinja": {"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>"},
    "microsoft-Phi-3.5-mini-instruct.jinja": {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>",
                                              "pad_token": "<|endoftext|>"},
    "microsoft-Phi-3-mini-4k-instruct.jinja": {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>",
                                               "pad_token": "<|endoftext|>"},
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>"},
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>"},
    "CohereForAI-c4ai-command-r-plus-tool_use.jinja": {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>",
                                                       "pad_token": "<PAD>"},
    "meetkai-functionary-medium-v3.2.jinja": LLAMA3,
}

TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city, e.g. \"Paris\""}},
                   "required": ["city"]}}}

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
CONVERSATIONS = [
    ("user", [{"role": "user", "content": "Hello"}], None),
    ("system-user", [SYSTEM, {"role": "user", "content": "Hello"}], None),
    ("multi-turn", [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "   I am an assistant   "},
                    {"role": "user", "content": "Another question\n"}], None),
    ("system-multi-turn", [SYSTEM, {"role": "user", "content": "Who are you?"},
                           {"role": "assistant", "content": "An assistant."}, {"role": "user", "content": "Thanks"}], None),
    ("unicode", [{"role": "user", "content": "Héllo \"wörld\" 'quotes' {{ not jinja }} 🙂\n\ttabbed  "}], None),
    ("ends-with-assistant", [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], None),
    ("not-alternating", [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}], None),
    ("tools", [{"role": "user", "content": "Weather in Paris?"}], [TOOL]),
]


# Small templates, one feature each, rendered by the same compiled environment (features.json): whitespace
# control, scoping, operators, filters, tests, methods, and errors.
FEATURES = [
    # whitespace: trim_blocks, lstrip_blocks, -/+ modifiers, comments, trailing newline
    ("{% if true %}\n  yes\n{% endif %}\n", {}),
    ("  {% if true %}x{% endif %}  \n  {{ 'v' }}  \n", {}),
    ("a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("a\n  {%+ if true %}b{% endif +%}\nc", {}),
    ("{# comment #}\nx {#- trimmed -#} y\n  {# lstripped #}\nz", {}),
    ("line1\r\nline2\rline3\n\n", {}),
    ("{{ 'a' }}\n{{- 'b' -}}\n  {{ 'c' }}", {}),
    # literals and printing
    ("{{ [1, 'a', none, true, 1.5, {'k': (1, 2)}, 1e16, 0.1 + 0.2, 1e-5, -0.0] }}", {}),
    ("{{ 'it\\'s' }} {{ \"q\\\"q\" }} {{ '\\u00e9\\x41\\n' }} {{ 'a' 'b' }} {{ ('x',) }} {{ () }}", {}),
    ("{{ x }}|{{ x.y is defined }}|{{ none }}|{{ True }}", {}),
    # operators and precedence
    ("{{ 1 + 2 * 3 ** 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** -1 }} {{ 1 - -1 }}", {}),
    ("{{ 'a' ~ 1 ~ none ~ undefined_var }} {{ 'ab' * 2 }} {{ [1] + [2] }} {{ 'x' + 'y' | upper }}", {}),
    ("{{ 1 < 2 < 3 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' in 'cat' }} {{ 2 not in [1] }}", {}),
    ("{{ not true or false and true }} {{ 0 or 'x' }} {{ '' and 'y' }} {{ 'yes' if 0 else 'no' }} [{{ 'z' if false }}]", {}),
    ("{{ -2 | abs }} {{ (1, 2)[1] }} {{ 'abc'[1] }} {{ 'abcdef'[1:4] }} {{ 'abcdef'[::-2] }} {{ [1, 2, 3][-1] }} {{ [1, 2, 3][:-1] }}", {}),
    ("{{ d.a }} {{ d['a'] }} {{ d.missing }} {{ d.get('a') }} {{ d.get('m', 'dflt') }} {{ d.items() | list }} {{ d.keys() | list }} {{ d.values() | list }}", {"d": {"a": 1, "b": [2]}}),
    ("{{ l[5] }}|{{ d['x'] }}|{{ l.append }}|{{ 'items' in d }}", {"l": [1], "d": {"items": 1}}),
    # statements
    ("{% for x in [1, 2, 3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('a', 'b') }};{% endfor %}", {}),
    ("{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in range(5) if x is odd %}{{ x }}{{ loop.length }}{% endfor %}", {}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for c in 'ab' %}{{ c }}.{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("{% set y = 5 %}{% for x in [1, 2] %}{{ y }}{% set y = x %}{% endfor %}[{{ y }}]", {}),
    ("{% set ns = namespace(n=0, found=false) %}{% for x in [1, 2, 3] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }} {{ ns.found }}", {}),
    ("{% if false %}a{% elif 0 %}b{% elif 'x' %}c{% else %}d{% endif %}{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}),
    ("{% set x %}  block {{ 1 + 1 }}  {% endset %}[{{ x }}]{% set y | trim | upper %}  t  {% endset %}[{{ y }}]", {}),
    ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }}", {}),
    ("{% filter upper %}abc {{ 'd' }}{% endfilter %}", {}),
    ("{% generation %}tracked{% endgeneration %}", {}),
    # filters
    ("{{ '  x  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ 'a-b c' | title }}", {}),
    ("{{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ [3, 1] | sort(reverse=true) }} {{ [1, 2, 1] | unique | list }} {{ [1, 2] | reverse | list }} {{ 'abc' | reverse }}", {}),
    ("{{ [1, 2, 3] | join('-') }} {{ [1, 2] | first }} {{ [1, 2] | last }} {{ [] | first }} {{ 'abc' | length }} {{ d | length }} {{ [1, 2, 3] | sum }} {{ [3, 1] | min }} {{ [3, 1] | max }}", {"d": {"a": 1}}),
    ("{{ undefined_var | default('dflt') }} {{ '' | default('e', true) }} {{ none | default('n') }} {{ x | d('y') }}", {}),
    ("{{ msgs | map(attribute='role') | list }} {{ msgs | selectattr('role', 'equalto', 'user') | list | length }} {{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='content') | join }}", {"msgs": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}),
    ("{{ [1, 0, 2, none] | select | list }} {{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3] | reject('gt', 1) | list }} {{ ['a', 'B'] | map('upper') | list }} {{ msgs | selectattr('x') | list }}", {"msgs": [{"x": 1}, {"y": 2}]}),
    ("{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'é\"<\n' | tojson }}|{{ [1.0, none, true] | tojson }}|{{ d | tojson(sort_keys=true) }}", {"d": {"z": [1, {"a": "ü"}], "a": None}}),
    ("{{ d | items | list }} {{ d | dictsort }} {{ d | dictsort(by='value', reverse=true) }}", {"d": {"b": 1, "a": 2}}),
    ("{{ '3' | int + 1 }} {{ 'x' | int }} {{ '3.7' | int }} {{ 2.9 | int }} {{ '1.5' | float }} {{ 3 | string ~ 'x' }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 2.1 | round(method='ceil') }}", {}),
    ("{{ 'aXbX' | replace('X', '-') }} {{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}|{{ '<a href=\"x\">' | e }} {{ 'one two  three' | wordcount }} {{ 'ab' | center(6) }}|", {}),
    ("{{ '%s-%05d-%.2f' | format('a', 42, 3.14159) }} {{ '%s and %s' % ('x', 'y') }} {{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ 'abc' | list }}", {}),
    # tests
    ("{{ x is defined }} {{ none is none }} {{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }}", {}),
    ("{{ 2 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ true is sameas true }} {{ 1 is sameas 1 }} {{ 'A' is upper }} {{ 'a' is lower }} {{ 1 is in [1] }} {{ x is not defined }} {{ true is boolean }} {{ 1 is boolean }}", {}),
    ("{{ 'upper' is filter }} {{ 'nope' is filter }} {{ 'odd' is test }} {{ 3 is gt 2 }} {{ 3 is lt 2 }} {{ 3 is ge 3 }} {{ 3 is ne 3 }} {{ range is callable }} {{ none is true }} {{ false is false }}", {}),
    # string methods
    ("{{ ' x '.strip() }}|{{ 'xax'.strip('x') }}|{{ ' x '.lstrip() }}|{{ ' x '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}", {}),
    ("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }} {{ \"they're bill's\".title() }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'abcb'.find('b') }} {{ 'abcb'.rfind('b') }} {{ 'abcb'.count('b') }}", {}),
    ("{{ '-'.join(['a', 'b']) }} {{ '{} {}!'.format('Hello', 'x') }} {{ '{0}{name}'.format(1, name='n') }} {{ 'a\nb\r\nc'.splitlines() }} {{ '42'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ 'xab'.removeprefix('x') }}", {}),
    ("{{ [1, 2, 1].count(1) }} {{ [1, 2].index(2) }} {{ 'é' | length }} {{ 'aé' | upper }} {{ 'ß'.upper() }} {{ 'abc'.capitalize() }}", {}),
    # globals
    ("{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(3, 0, -1) | list }} {{ dict(a=1, b=2) }} {{ namespace(x=1).x }} {{ strftime_now('%Y-%m-%d %H:%M %b %B %a %A %j') }}", {}),
    # errors
    ("{{ raise_exception('Custom failure: ' ~ 42) }}", {}),
    ("{{ x.y }}", {}),
    ("{{ d.x.y }}", {"d": {}}),
    ("{{ l[0].y }}", {"l": []}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ 1 / 0 }}", {}),
    ("{% for x in none %}{% endfor %}", {}),
    ("{{ 'a' < 1 }}", {}),
    ("{{ undefined_var + 1 }}", {}),
    ("{{ undefined_fn() }}", {}),
    ("{% set ns = 1 %}{% set ns.x = 2 %}", {}),
    ("{% set ns = namespace() %}{% set ns._x = 2 %}", {}),
    ("{{ x | tojson }}", {}),
    ("{% for a, b in [1] %}{% endfor %}", {}),
]


class FixedDatetime(real_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW


def main():
    assert transformers.__version__ == "5.25.0", transformers.__version__
    assert jinja2.__version__ == "3.1.6", jinja2.__version__
    ctu.datetime = FixedDatetime  # strftime_now() reads chat_template_utils.datetime.now()
    global HERE
    extra = len(sys.argv) > 1
    if extra:
        HERE = sys.argv[1]
    files = sorted(f for f in os.listdir(HERE) if f.endswith(".jinja"))
    missing = set(files) - set(TOKENS)
    if missing:
        sys.exit(f"templates without special tokens in TOKENS: {sorted(missing)}")
    cases = []
    for f in files:
        with open(os.path.join(HERE, f), encoding="utf-8", newline="") as fh:
            template = fh.read()
        for name, messages, tools in CONVERSATIONS:
            for gen in (False, True):
                case = {"template": f, "conversation": name, "messages": messages, "tools": tools,
                        "add_generation_prompt": gen, "variables": TOKENS[f]}
                try:
                    rendered, _ = ctu.render_jinja_template(
                        conversations=[messages], tools=tools, chat_template=template, add_generation_prompt=gen,
                        **TOKENS[f])
                    case["text"] = rendered[0]
                except Exception as e:  # noqa: BLE001 - templates raise TypeError etc. too
                    case["error"] = str(e)
                    case["error_type"] = type(e).__name__
                cases.append(case)
    if extra:
        FEATURES.clear()
    features = []
    for template, variables in FEATURES:
        case = {"template": template, "variables": variables}
        try:
            case["text"] = ctu._compile_jinja_template(template).render(**variables)
        except Exception as e:  # noqa: BLE001
            case["error"] = str(e)
            case["error_type"] = type(e).__name__
        features.append(case)
    with open(os.path.join(HERE, "features.json") if not extra else os.devnull, "w", encoding="utf-8") as fh:
        json.dump({"now": NOW.isoformat(), "cases": features}, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    out = os.path.join(HERE, "renderings.json")
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"now": NOW.isoformat(), "cases": cases}, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    errors = sum("error" in c for c in cases)
    print(f"{out}: {len(cases)} renderings of {len(files)} templates, {errors} rejected conversations")


if __name__ == "__main__":
    main()
