"""Generator of the ``general`` set: short general-capability tasks to detect catastrophic forgetting.

Tasks (``metadata.task``): ``arithmetic`` word problems, ``conversion`` of units, ``capital`` cities,
``definition`` of common words, and three rewriting tasks (``spelling`` correction, ``past_tense``,
``sort`` words alphabetically). Every reference is short and exact, so ``exact_match`` works for all
but the definitions (``rougeL`` covers those).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from evalsets.generators.general_facts import CAPITALS, DEFINITIONS
from evalsets.generators.text import add_typos, chat_example, normalise

SYSTEM = "You are a helpful assistant. Answer briefly and directly."
NUMBER_ONLY = " Answer with the number only."

# name -> pronoun, for word problems
PEOPLE = {"Maria": "she", "James": "he", "Aisha": "she", "Lukas": "he", "Priya": "she", "Tom": "he",
          "Sofia": "she", "Daniel": "he", "Mei": "she", "Omar": "he", "Hannah": "she", "Carlos": "he",
          "Grace": "she", "Ivan": "he", "Elena": "she", "Noah": "he", "Chloe": "she", "Arjun": "he"}
ITEMS = ("pencils", "notebooks", "apples", "stickers", "marbles", "cupcakes", "tickets", "books", "stamps")

# (from unit, to unit, function, low, high, exact): exact conversions are integers, others rounded.
CONVERSIONS: tuple[tuple[str, str, Callable[[float], float], int, int, bool], ...] = (
    ("kilometres", "miles", lambda v: v * 0.621371, 2, 500, False),
    ("miles", "kilometres", lambda v: v * 1.609344, 2, 300, False),
    ("kilograms", "pounds", lambda v: v * 2.20462, 1, 200, False),
    ("pounds", "kilograms", lambda v: v * 0.453592, 1, 400, False),
    ("degrees Celsius", "degrees Fahrenheit", lambda v: v * 9 / 5 + 32, -30, 45, False),
    ("degrees Fahrenheit", "degrees Celsius", lambda v: (v - 32) * 5 / 9, -20, 110, False),
    ("centimetres", "inches", lambda v: v / 2.54, 1, 300, False),
    ("inches", "centimetres", lambda v: v * 2.54, 1, 100, False),
    ("metres", "feet", lambda v: v * 3.28084, 1, 500, False),
    ("litres", "millilitres", lambda v: v * 1000, 1, 20, True),
    ("hours", "minutes", lambda v: v * 60, 1, 48, True),
    ("minutes", "seconds", lambda v: v * 60, 1, 120, True),
    ("days", "hours", lambda v: v * 24, 1, 60, True),
    ("kilometres", "metres", lambda v: v * 1000, 1, 90, True),
)

SENTENCE_PARTS = {
    "verbs": (("paints", "painted"), ("cleans", "cleaned"), ("moves", "moved"), ("fixes", "fixed"),
              ("sells", "sold"), ("buys", "bought"), ("finds", "found"), ("carries", "carried"),
              ("washes", "washed"), ("builds", "built"), ("repairs", "repaired"), ("hides", "hid")),
    "adjectives": ("old", "heavy", "small", "wooden", "broken", "bright", "narrow", "expensive", "dusty",
                   "yellow", "tiny", "antique"),
    "nouns": ("fence", "table", "bicycle", "cupboard", "ladder", "suitcase", "mirror", "bench", "lantern",
              "wagon", "bookcase", "chair"),
    "places": ("in the garage", "near the station", "at the market", "behind the house", "in the garden",
               "next to the river", "in the basement", "on the porch"),
}
SORT_WORDS = (
    "apple", "river", "candle", "mountain", "pencil", "garden", "violin", "orange", "tiger", "window",
    "basket", "planet", "zebra", "ladder", "forest", "island", "jacket", "kettle", "lemon", "mirror",
    "needle", "ocean", "pillow", "quilt", "rocket", "saddle", "tunnel", "umbrella", "valley", "wallet",
    "yogurt", "anchor", "bridge", "cactus", "dolphin", "engine", "falcon", "guitar", "harbor", "igloo",
)


def _arithmetic(rng: random.Random) -> tuple[str, str]:
    """Return one arithmetic word problem and its integer answer."""
    name = rng.choice(list(PEOPLE))
    pron = PEOPLE[name]
    item = rng.choice(ITEMS)
    kind = rng.randrange(10)
    a, b = rng.randint(2, 40), rng.randint(2, 20)
    if kind == 0:
        q, ans = f"{name} buys {a} {item} that cost ${b} each. How many dollars does {pron} spend?", a * b
    elif kind == 1:
        q, ans = f"A train travels at {a * 5} kilometres per hour for {b} hours. How many kilometres does it travel?", a * 5 * b
    elif kind == 2:
        q, ans = f"{name} has {a + b} {item}. {pron.capitalize()} gives {b} to a friend. How many {item} are left?", a
    elif kind == 3:
        q, ans = f"{a * b} students are split equally into {b} groups. How many students are in each group?", a
    elif kind == 4:
        q, ans = f"A box holds {a} {item}. How many {item} are in {b} boxes?", a * b
    elif kind == 5:
        q, ans = f"{name} reads {a} pages a day. How many pages does {pron} read in {b} days?", a * b
    elif kind == 6:
        c, d = rng.randint(10, 999), rng.randint(10, 999)
        op = rng.choice(("plus", "minus", "times"))
        if op == "minus":
            c, d = max(c, d), min(c, d)
        if op == "times":
            d = rng.randint(2, 12)
        q, ans = f"What is {c} {op} {d}?", {"plus": c + d, "minus": c - d, "times": c * d}[op]
    elif kind == 7:
        q, ans = f"{name} had ${a + b}. After buying a book for ${b}, how many dollars does {pron} have left?", a
    elif kind == 8:
        q, ans = f"A rectangle is {a} metres wide and {b} metres long. What is its area in square metres?", a * b
    else:
        q, ans = f"{name} is {a} years old. How old will {pron} be in {b} years?", a + b
    return q + NUMBER_ONLY, str(ans)


def _conversion(rng: random.Random) -> tuple[str, str]:
    """Return one unit conversion question and its answer (value and unit)."""
    while True:
        source, target, convert, low, high, exact = rng.choice(CONVERSIONS)
        value = rng.randint(low, high)
        result = convert(value)
        if exact:
            return f"Convert {value} {source} to {target}. Answer with the number and unit.", f"{round(result)} {target}"
        # Skip values that land on a rounding tie, so the one-decimal reference is unambiguous.
        if abs(abs(result * 10) % 1 - 0.5) > 1e-6:
            answer = f"{result:.1f} {target}".replace("-0.0 ", "0.0 ")
            return (f"Convert {value} {source} to {target}. Round to one decimal place and answer with the "
                    f"number and unit."), answer


def _sentence(rng: random.Random) -> tuple[str, str]:
    """Return a simple sentence in the present tense and the same sentence in the past tense."""
    name = rng.choice(list(PEOPLE))
    present, past = rng.choice(SENTENCE_PARTS["verbs"])
    rest = (f"the {rng.choice(SENTENCE_PARTS['adjectives'])} {rng.choice(SENTENCE_PARTS['nouns'])} "
            f"{rng.choice(SENTENCE_PARTS['places'])}.")
    return f"{name} {present} {rest}", f"{name} {past} {rest}"


def _spelling(rng: random.Random) -> tuple[str, str]:
    """Return a spelling-correction prompt (a sentence with typos) and the correct sentence."""
    _present, past = _sentence(rng)
    noisy = add_typos(past, rng, rate=0.35, minimum=2, protect=[past.split()[0]])
    return f"Correct the spelling mistakes in this sentence: {noisy}", past


def _past_tense(rng: random.Random) -> tuple[str, str]:
    """Return a rewrite-to-past-tense prompt and the rewritten sentence."""
    present, past = _sentence(rng)
    return f"Rewrite this sentence in the past tense: {present}", past


def _sort(rng: random.Random) -> tuple[str, str]:
    """Return a sort-alphabetically prompt and the sorted list."""
    words = rng.sample(SORT_WORDS, rng.randint(4, 6))
    return (f"Sort these words alphabetically and list them separated by commas: {', '.join(words)}",
            ", ".join(sorted(words)))


CAPITAL_QUESTIONS = ("What is the capital of {country}?", "Which city is the capital of {country}?",
                     "Name the capital city of {country}.")
DEFINITION_QUESTIONS = ("Define {term} in one sentence.", "What is {term}? Answer in one sentence.",
                        "Explain in one sentence what {term} is.")
GENERATED_TASKS = {"arithmetic": (_arithmetic, 400), "conversion": (_conversion, 250),
                   "spelling": (_spelling, 150), "past_tense": (_past_tense, 150), "sort": (_sort, 150)}


def generate_general(seed: int = 0) -> list[dict]:
    """Return the general-capability examples (chat format), deterministic for a given ``seed``.

    Each capital and each definition appears once (one phrasing drawn per fact), the generated
    tasks have fixed counts; the whole list is shuffled before ids are assigned.
    """
    rng = random.Random(f"general-{seed}")
    rows: list[tuple[str, str, str]] = []
    for country, city in CAPITALS.items():
        question = rng.choice(CAPITAL_QUESTIONS).format(country=country)
        rows.append(("capital", question + " Answer with the city name only.", city))
    for term, definition in DEFINITIONS.items():
        rows.append(("definition", rng.choice(DEFINITION_QUESTIONS).format(term=term), definition))
    seen = {normalise(question) for _task, question, _answer in rows}
    for task, (make, count) in GENERATED_TASKS.items():
        made = 0
        for _attempt in range(100 * count):
            question, answer = make(rng)
            if normalise(question) in seen:
                continue
            seen.add(normalise(question))
            rows.append((task, question, answer))
            made += 1
            if made == count:
                break
        else:
            raise RuntimeError(f"general: could only generate {made} unique {task} examples of {count}")
    rng.shuffle(rows)
    return [
        chat_example(f"general-{index:05d}", SYSTEM, question, answer, {"category": task, "task": task})
        for index, (task, question, answer) in enumerate(rows)
    ]
