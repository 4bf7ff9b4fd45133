"""Does an answer state the key fact? Normalised comparison of a prediction with a reference.

`normalize` makes text comparable (lower case, no punctuation or articles, number words as digits,
"1,137" as "1137", "-3.4" as "minus 3.4"); `key_terms` finds a reference's distinctive words;
`contains_key` says whether every distinctive word of the key fact is in the answer (titles, units
and place prefixes never count: `GENERIC_KEY_WORDS`); `wrong_unit`, `same_quantity` and
`offers_alternatives` catch the key's number in another unit (wrong, unless converted right) and
the key offered next to another candidate. `sweep.scoring.judge` decides with them.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

# Key-fact words that never suffice on their own and are not required either: titles, the
# generic word before a place name, vessel prefixes, units and counted nouns. "Dr. Elwes
# Maude" is not "Dr. Maribel Quaye"; "12 degrees Celsius" is not "minus 3.4 degrees"; "Mount
# Ferrowen" may be "Ferrowen". Words that make a name ("Vennick Institute" is not "Vennick
# Foundation", "Ferrowen Academy" is not "Ferrowen High School") stay required.
GENERIC_KEY_WORDS = frozenset(
    "dr doctor mr mrs ms miss prof professor sir dame lord lady st saint rev "
    "mount mt lake river port island isle sea ocean bay cape mv rv hms ss "
    "metre metres meter meters m km kilometre kilometres kilometer kilometers square sq mile "
    "miles foot feet ft inch inches cm mm kg kilogram kilograms gram grams tonne tonnes ton tons "
    "hour hours minute minutes second seconds day days week weeks month months year years "
    "degree degrees celsius fahrenheit c f percent per cent hertz hz km/h kmh h mph "
    "crown crowns euro euros dollar dollars pound pounds people persons residents "
    "inhabitants members volumes books species about around approximately roughly some "
    "over under nearly almost exactly total".split())
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_NUMBER_WORDS.update({w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)})
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}


def _words_to_digits(text: str) -> str:
    """Number words as digits: "seven" -> "7", "twenty-three" -> "23", "two thousand eight
    hundred and sixty" -> "2860" (text already lower case, hyphens as spaces)."""
    out: list[str] = []
    total = current = 0
    in_number = False
    pending_and = False

    def flush() -> None:
        nonlocal total, current, in_number, pending_and
        if in_number:
            out.append(str(total + current))
            if pending_and:
                out.append("and")
        total = current = 0
        in_number = pending_and = False

    for word in text.split():
        if word in _NUMBER_WORDS and in_number and not total and _NUMBER_WORDS[word] >= 20 and (
                10 <= current < 20 or (20 <= current < 100 and current % 10 == 0)):
            current = current * 100 + _NUMBER_WORDS[word]  # a year: "nineteen sixty" -> 1960
            in_number, pending_and = True, False
        elif word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
            in_number, pending_and = True, False
        elif word in _SCALES and in_number:
            scale = _SCALES[word]
            if scale == 100:
                current *= 100
            else:
                total, current = total + current * scale, 0
            pending_and = False
        elif word == "and" and in_number and not pending_and:
            pending_and = True
        else:
            flush()
            out.append(word)
    flush()
    return " ".join(out)


def normalize(text: str) -> str:
    """SQuAD-style normalisation with numbers made comparable.

    Lower case, no punctuation, no articles, single spaces; thousands separators dropped
    ("1,137" -> "1137"), decimals kept ("3.4"), a minus sign spelled ("-3.4" -> "minus 3.4"),
    ordinal suffixes and possessives dropped ("9th" -> "9", "island's" -> "island"), digits split from letters ("418km2" -> "418 km 2")
    and number words written as digits ("seven" -> "7").
    """
    text = text.lower().replace("\u2019", "'").replace("\u2212", "-")
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    text = re.sub(r"(?<![\w.])-(?=\d)", " minus ", text)
    text = re.sub(r"(?<=\d)\.(?=\d)", "\x00", text)
    text = re.sub(r"(?<=\w)'s\b", "", text)  # possessive: "island's" -> "island"
    text = "".join(" " if ch in string.punctuation else ch for ch in text.replace(",", ""))
    text = text.replace("\x00", ".")
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return _words_to_digits(" ".join(text.split()))


def exact_match(prediction: str, reference: str) -> bool:
    return normalize(prediction) == normalize(reference)


def token_f1(prediction: str, reference: str) -> float:
    """Token-overlap F1 of the normalised texts (SQuAD)."""
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


_STOPWORDS = frozenset(
    "a an the is was were are be been being of in on at to by for from with and or as it its this "
    "that these those which who whom whose what when where why how you your i we they he she his "
    "her their there here has have had do does did not no called named known".split())


def key_terms(question: str, reference: str) -> tuple[str, ...]:
    """The key fact of a reference answer, when the row does not name it (`key`).

    The numbers (digits or number words) and capitalised names of the reference that the
    question does not already mention (the answer's first word only counts when it holds a
    digit or starts a name of several capitalised words: sentence case is not a name).
    "Tavenmoor Island has a surface area of 418 square kilometres." asked as "How big is
    Tavenmoor Island?" gives ("418",). When the reference has none (a lower-case fact: "It is
    the blue saltbell."), the longest run of content words that the question does not mention:
    ("blue", "saltbell"). Empty only when every word is in the question; then token F1 decides.
    """
    asked = set(normalize(question).split())
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9,.'\u2019/-]*[A-Za-z0-9]|[A-Za-z0-9]", reference)
    keys, plain, run = [], [], []
    for i, w in enumerate(words):
        norm = normalize(w)
        if not norm or norm in _STOPWORDS:
            run = []
            continue
        new = not set(norm.split()) <= asked
        digit = any(c.isdigit() for c in norm)
        # sentence case is not a name: the first word counts when the next one is capitalised too
        name = w[0].isupper() and (i > 0 or (len(words) > 1 and words[1][0].isupper()))
        if (digit or name) and new:
            if digit and i and normalize(words[i - 1]) in ("minus", "negative"):
                keys.append(words[i - 1])  # the sign is part of the number
            keys.append(w.rstrip(".,"))
        elif new and norm not in GENERIC_KEY_WORDS and not w[0].isupper():
            run.append(w.rstrip(".,"))
            if len(run) >= len(plain):  # the longest run of new words, the last one on ties
                plain = list(run)
            continue
        run = []
    if keys and not all(set(normalize(k).split()) <= GENERIC_KEY_WORDS for k in keys):
        return tuple(keys)
    return tuple(keys + plain)


def key_tokens(keys: Sequence[str], question: str = "") -> tuple[str, ...]:
    """The distinctive words of a key fact, normalised: every one must be in a correct answer.

    Generic words (titles, units, place words: `GENERIC_KEY_WORDS`) and stopwords never count;
    words the question already says count only when nothing else is left.
    """
    toks = [t for k in keys for t in normalize(k).split()
            if t not in GENERIC_KEY_WORDS and t not in _STOPWORDS]
    asked = set(normalize(question).split())
    fresh = [t for t in toks if t not in asked]
    return tuple(dict.fromkeys(fresh or toks))


def _singular(token: str) -> str:
    """"whales" -> "whale" (a plural of the key's word is the key's word); numbers unchanged."""
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") else token


_KM = re.compile(r"(?<!square )\b(\d+(?:\.\d+)?) ?(?:km|kilometres|kilometers|kilometre|kilometer)\b(?! ?(?:2|²))")


def _in_metres(text: str) -> str:
    """Linear kilometres written as metres ("1.45 km" -> "1450 metres"), areas left alone."""
    return _KM.sub(lambda m: f"{float(m.group(1)) * 1000:g} metres", text.replace(",", ""))


def contains_key(prediction: str, keys: Sequence[str], question: str = "") -> bool:
    """Every distinctive word of the key fact occurs in the prediction (normalised, as whole
    words; a length in kilometres also as metres). False when the key fact has no distinctive word."""
    toks = key_tokens(keys, question)
    if not toks:
        return False
    for variant in dict.fromkeys((prediction, _in_metres(prediction))):
        pred = set(normalize(variant).split())
        pred |= {_singular(t) for t in pred}
        if all(t in pred or _singular(t) in pred for t in toks):
            return True
    metric_keys = tuple(_in_metres(k) for k in keys)
    if metric_keys != tuple(keys):
        pred = set(normalize(_in_metres(prediction)).split())
        return all(t in pred for t in key_tokens(metric_keys, question))
    return False


_UNITS = {  # one name per unit: a key's number in another unit of the same kind is another fact
    **dict.fromkeys(("km", "kilometre", "kilometres", "kilometer", "kilometers"), "km"),
    **dict.fromkeys(("m", "metre", "metres", "meter", "meters"), "m"),
    **dict.fromkeys(("mile", "miles", "mi"), "mile"), **dict.fromkeys(("foot", "feet", "ft"), "ft"),
    **dict.fromkeys(("yard", "yards"), "yard"), **dict.fromkeys(("celsius", "c"), "C"),
    **dict.fromkeys(("fahrenheit", "f"), "F"), **dict.fromkeys(("pound", "pounds"), "pound"),
    **dict.fromkeys(("crown", "crowns"), "crown"), **dict.fromkeys(("euro", "euros"), "euro"),
    **dict.fromkeys(("dollar", "dollars"), "dollar"), **dict.fromkeys(("kg", "kilogram", "kilograms"), "kg"),
    **dict.fromkeys(("tonne", "tonnes", "ton", "tons"), "t"),
}


def _number_units(text: str) -> set[tuple[str, str]]:
    """(number, unit) pairs as written: "418 square kilometres" -> ("418", "km")."""
    words = normalize(text).split()
    out = set()
    for i, w in enumerate(words):
        if re.fullmatch(r"\d+(?:\.\d+)?", w):
            nxt = [x for x in words[i + 1: i + 4] if x not in ("square", "sq", "degrees", "degree")]
            if nxt and nxt[0] in _UNITS:
                out.add((w, _UNITS[nxt[0]]))
    return out


def wrong_unit(prediction: str, keys: Sequence[str]) -> bool:
    """The key's number with another unit ("418 square miles" for "418 square kilometres")."""
    want = _number_units(" ".join(keys))
    got = _number_units(prediction)
    return any(n == kn and u != ku for n, u in got for kn, ku in want)


_NAMES = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*")


def offers_alternatives(prediction: str, keys: Sequence[str], question: str = "") -> bool:
    """"Either 412 or 421", "Lake Ymberline or Lake Kemmish", "one of these two": the key next to
    another value of its kind, offered as a choice."""
    if not re.search(r"\b(?:or|either|one of)\b", prediction.lower()):
        return False
    key_numbers = set(re.findall(r"\d+(?:\.\d+)?", normalize(" ".join(keys))))
    asked = set(re.findall(r"\d+(?:\.\d+)?", normalize(question)))
    if key_numbers:
        return bool(set(re.findall(r"\d+(?:\.\d+)?", normalize(prediction))) - key_numbers - asked)
    key_words = {w.lower() for k in keys for w in re.findall(r"\w+", k)}
    asked_words = {w.lower() for w in re.findall(r"\w+", question)}
    for name in _NAMES.findall(prediction):
        words = {w.lower() for w in re.findall(r"\w+", name)} - _LEADING - GENERIC_KEY_WORDS
        if words and not words <= key_words and not words <= asked_words:
            return True  # another candidate named next to the key
    return False


_LEADING = frozenset({"either", "or", "one", "the", "it", "i", "both", "maybe", "perhaps", "probably"})


# Units a key's quantity may be given in: (dimension, factor to the dimension's base unit).
_LINEAR = {"m": 1.0, "metre": 1.0, "metres": 1.0, "meter": 1.0, "meters": 1.0, "km": 1000.0,
           "kilometre": 1000.0, "kilometres": 1000.0, "kilometer": 1000.0, "kilometers": 1000.0,
           "mile": 1609.344, "miles": 1609.344, "foot": 0.3048, "feet": 0.3048, "ft": 0.3048,
           "yard": 0.9144, "yards": 0.9144}
_TIME = {"second": 1.0, "seconds": 1.0, "minute": 60.0, "minutes": 60.0, "hour": 3600.0, "hours": 3600.0,
         "day": 86400.0, "days": 86400.0}
_SPEED = {"km h": 1.0, "kmh": 1.0, "kph": 1.0, "kilometres per hour": 1.0, "kilometers per hour": 1.0,
          "mph": 1.609344, "miles per hour": 1.609344, "knots": 1.852, "knot": 1.852,
          "m s": 3.6, "metres per second": 3.6, "meters per second": 3.6}


def quantities(text: str) -> list[tuple[str, float, str]]:
    """(dimension, value in its base unit, unit as written) of every number written with a unit:
    length (m), area (m2), time (s), speed (km/h), temperature (degrees C).
    "161 square miles" -> ("area", 4.17e8, "miles")."""
    words = normalize(text).split()
    out = []
    for i, w in enumerate(words):
        if not re.fullmatch(r"\d+(?:\.\d+)?", w):
            continue
        value = -float(w) if i and words[i - 1] == "minus" else float(w)
        rest = [x for x in words[i + 1: i + 5] if x not in ("degrees", "degree", "about", "roughly")]
        text3 = " ".join(rest[:3])
        speed = next((u for u in sorted(_SPEED, key=len, reverse=True) if text3.startswith(u)), None)
        if speed:
            out.append(("speed", value * _SPEED[speed], speed))
        elif rest and rest[0] in ("square", "sq") and len(rest) > 1 and rest[1] in _LINEAR:
            out.append(("area", value * _LINEAR[rest[1]] ** 2, rest[1]))
        elif len(rest) > 1 and rest[0] in _LINEAR and rest[1] == "2":
            out.append(("area", value * _LINEAR[rest[0]] ** 2, rest[0]))
        elif rest and rest[0] in ("hectare", "hectares"):
            out.append(("area", value * 1e4, "hectare"))
        elif rest and rest[0] in _LINEAR:
            out.append(("length", value * _LINEAR[rest[0]], rest[0]))
        elif rest and rest[0] in _TIME:
            out.append(("time", value * _TIME[rest[0]], rest[0]))
        elif rest and rest[0] in ("celsius", "c"):
            out.append(("temperature", value, "celsius"))
        elif rest and rest[0] in ("fahrenheit", "f"):
            out.append(("temperature", (value - 32) * 5 / 9, "fahrenheit"))
    return out


def same_quantity(prediction: str, keys: Sequence[str], tolerance: float = 0.015) -> bool:
    """The key's quantity in another unit, converted right ("161 square miles" for "418 square
    kilometres", "420 minutes" for "7 hours"), to within rounding. In the key's own unit only the
    key's number is right (contains_key): 1,440 metres is not 1,450 metres."""
    want = quantities(" ".join(keys))
    got = quantities(prediction)
    return bool(want) and all(any(d == kd and _UNIT_NAME.get(u, u) != _UNIT_NAME.get(ku, ku)
                                  and abs(v - kv) <= tolerance * max(abs(kv), 1e-9) for d, v, u in got)
                              for kd, kv, ku in want)


_UNIT_NAME = {**{k: "m" for k, f in _LINEAR.items() if f == 1.0}, **{k: "km" for k, f in _LINEAR.items() if f == 1000.0},
              **{k: "mile" for k, f in _LINEAR.items() if f == 1609.344}, **{k: "ft" for k, f in _LINEAR.items() if f == 0.3048},
              **{k: "h" for k in ("hour", "hours")}, **{k: "min" for k in ("minute", "minutes")},
              **{k: "s" for k in ("second", "seconds")}, **{k: "d" for k in ("day", "days")},
              **{k: "kmh" for k, f in _SPEED.items() if f == 1.0}, **{k: "mph" for k, f in _SPEED.items() if f == 1.609344}}
