"""Generator of the ``extract`` set: order details extracted from a short customer message as JSON.

Every example has the same JSON Schema (:data:`SCHEMA`, also written to ``extract/schema.json``).
The reference is compact canonical JSON: keys in schema order, ``json.dumps(obj,
separators=(",", ":"), ensure_ascii=False)`` (no spaces: 8 SmolLM2 tokens fewer per answer); absent facts
are ``null``. Messages are kept short
(prompt + answer well under ~120 SmolLM2 tokens) because the demo fine-tunes on CPU.
"""

from __future__ import annotations

import json
import random

from evalsets.generators import vocab
from evalsets.generators.text import add_typos, casualize, chat_example, normalise, weighted_quotas

ISSUES = ("damaged", "late", "wrong_item", "missing", "refund", "cancel")
KEYS = ("name", "order_id", "product", "quantity", "issue")

SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "order_issue",
    "type": "object",
    "properties": {
        "name": {"type": ["string", "null"], "minLength": 1},
        "order_id": {"type": ["string", "null"], "pattern": "^[A-Z]{2}-[0-9]{5}$"},
        "product": {"type": ["string", "null"], "minLength": 1},
        "quantity": {"type": ["integer", "null"], "minimum": 1},
        "issue": {"enum": list(ISSUES)},
    },
    "required": list(KEYS),
    "additionalProperties": False,
}

SYSTEM = (
    "Extract the order as JSON with keys name, order_id, product, quantity, issue (damaged, late, wrong_item, "
    "missing, refund, cancel); null if unknown."
)

ISSUE_WEIGHTS = {"damaged": 0.2, "late": 0.2, "wrong_item": 0.15, "missing": 0.15, "refund": 0.15,
                 "cancel": 0.15}
STYLE_WEIGHTS = {"formal": 0.5, "casual": 0.3, "typos": 0.2}

PRODUCTS = (
    ("desk lamp", "desk lamps"), ("office chair", "office chairs"), ("coffee grinder", "coffee grinders"),
    ("yoga mat", "yoga mats"), ("water bottle", "water bottles"), ("phone case", "phone cases"),
    ("backpack", "backpacks"), ("wireless mouse", "wireless mice"), ("keyboard", "keyboards"),
    ("monitor stand", "monitor stands"), ("USB-C cable", "USB-C cables"), ("throw pillow", "throw pillows"),
    ("bath towel", "bath towels"), ("frying pan", "frying pans"), ("tea kettle", "tea kettles"),
    ("bookshelf", "bookshelves"), ("wall clock", "wall clocks"), ("picture frame", "picture frames"),
    ("blender", "blenders"), ("air purifier", "air purifiers"), ("camping tent", "camping tents"),
    ("sleeping bag", "sleeping bags"), ("bike helmet", "bike helmets"), ("laptop sleeve", "laptop sleeves"),
    ("knife set", "knife sets"), ("wine glass", "wine glasses"), ("dinner plate", "dinner plates"),
    ("lunch box", "lunch boxes"), ("baby monitor", "baby monitors"), ("standing desk", "standing desks"),
    ("power bank", "power banks"), ("smart plug", "smart plugs"), ("rain jacket", "rain jackets"),
    ("toaster", "toasters"), ("umbrella", "umbrellas"), ("electric kettle", "electric kettles"),
)
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                9: "nine", 10: "ten", 12: "twelve"}
# Phrases used when no product is named: (text, verb "be", pronoun).
NO_PRODUCT = (("my package", "was", "it"), ("my items", "were", "they"), ("everything", "was", "it"),
              ("my delivery", "was", "it"))

TEMPLATES: dict[str, tuple[str, ...]] = {
    "damaged": (
        "I got {items} in {order} and {it} arrived broken.",
        "{Order} came today, but {items} {be} damaged.",
        "Unfortunately {items} from {order} arrived cracked.",
        "Got {items} ({order}) and {it} {be} damaged.",
    ),
    "late": (
        "I'm still waiting for {items} from {order}.",
        "{Order} with {items} hasn't arrived yet.",
        "Two weeks on, {items} from {order} never came.",
        "Tracking for {order} hasn't moved and {items} {be} late.",
    ),
    "wrong_item": (
        "I ordered {items} in {order} but got something else.",
        "{Order} arrived with the wrong item instead of {items}.",
        "Instead of {items}, {order} contained a different product.",
        "You sent me the wrong thing: {order} should have been {items}.",
    ),
    "missing": (
        "{Order} arrived but {items} {be} missing from the box.",
        "The box for {order} didn't include {items}.",
        "Only part of {order} came; {items} {be} not there.",
        "{Order} showed up without {items}.",
    ),
    "refund": (
        "I'd like a refund for {items} from {order}.",
        "Please refund {items} in {order}, I don't want {them}.",
        "Can I get my money back for {items} ({order})?",
        "I returned {items} from {order}, where is my refund?",
    ),
    "cancel": (
        "Please cancel {order} for {items}.",
        "I need to cancel {items} in {order} before it ships.",
        "Cancel {order} please, I ordered {items} by mistake.",
        "I changed my mind about {items}, please cancel {order}.",
    ),
}
INTROS = ("Hi, I'm {name}.", "This is {name}.", "I'm {name}.", "{name} here.")
SIGNATURES = ("Thanks, {name}", "- {name}", "Best, {name}")
EXTRAS = ("Please help.", "Thanks!", "Help?", "", "", "", "", "")


def canonical_json(obj: dict) -> str:
    """Return ``obj`` as the canonical reference string (schema key order, no spaces after ``,``/``:``)."""
    return json.dumps({key: obj[key] for key in KEYS}, ensure_ascii=False, separators=(",", ":"))


def _quantity_text(rng: random.Random, quantity: int, singular: str) -> str:
    """Return how the message states the quantity: an article or number word for 1, a word or digits."""
    if quantity == 1:
        return rng.choice(("an" if singular[0] in "aeiou" else "a", "one", "1"))
    return rng.choice((NUMBER_WORDS.get(quantity, str(quantity)), str(quantity)))


def draw_example(rng: random.Random, issue: str) -> tuple[str, dict, list[str]]:
    """Return ``(message, reference object, protected values)`` for one example of ``issue``."""
    name = None
    if rng.random() < 0.75:
        first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
        name = f"{first} {last}" if rng.random() < 0.7 else first
    order_id = None
    if rng.random() < 0.75:
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
        order_id = f"{letters}-{rng.randint(10000, 99999)}"
        order_ref = rng.choice(("order {id}", "order #{id}", "my order {id}")).format(id=order_id)
    else:
        order_ref = rng.choice(("my order", "my last order", "my recent order"))
    product = quantity = None
    if rng.random() < 0.8:
        singular, plural = rng.choice(PRODUCTS)
        quantity = rng.choice((1, 1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 12))
        amount = _quantity_text(rng, quantity, singular)
        items = f"{amount} {singular if quantity == 1 else plural}"
        be, it, them = ("was", "it", "it") if quantity == 1 else ("were", "they", "them")
        product = singular
    else:
        items, be, it = rng.choice(NO_PRODUCT)
        them = "them" if it == "they" else it
    sentence = rng.choice(TEMPLATES[issue]).format(
        items=items, order=order_ref, Order=order_ref[0].upper() + order_ref[1:], be=be, it=it, them=them)
    parts = [sentence]
    if name is not None:
        if rng.random() < 0.5:
            parts.insert(0, rng.choice(INTROS).format(name=name))
        else:
            parts.append(rng.choice(SIGNATURES).format(name=name))
    extra = rng.choice(EXTRAS)
    if extra:
        parts.insert(len(parts) - (1 if name is not None and parts[-1].endswith(name) else 0), extra)
    reference = {"name": name, "order_id": order_id, "product": product, "quantity": quantity, "issue": issue}
    protected = [v for v in (name, order_id, items) if v]
    return " ".join(parts), reference, protected


def generate_extract(n: int, seed: int = 0) -> list[dict]:
    """Return ``n`` unique extraction examples (chat format), deterministic for a given ``seed``."""
    rng = random.Random(f"extract-{seed}")
    quotas = weighted_quotas(ISSUE_WEIGHTS, n)
    plan = [issue for issue, count in quotas.items() for _ in range(count)]
    rng.shuffle(plan)
    examples: list[dict] = []
    seen: set[str] = set()
    for issue in plan:
        for _attempt in range(200):
            message, reference, protected = draw_example(rng, issue)
            style = rng.choices(list(STYLE_WEIGHTS), weights=list(STYLE_WEIGHTS.values()))[0]
            if style == "casual":
                message = casualize(message, rng, protect=protected)
            elif style == "typos":
                message = add_typos(message, rng, rate=0.12, minimum=1, protect=protected)
            key = normalise(message)
            if key not in seen:
                break
        else:
            raise RuntimeError(f"extract: could not draw a new unique message for issue {issue!r}")
        seen.add(key)
        metadata = {
            "category": issue,
            "issue": issue,
            "query_style": style,
            "fields_present": sum(reference[k] is not None for k in KEYS),
            "schema": SCHEMA,
        }
        examples.append(chat_example(f"extract-{len(examples):05d}", SYSTEM, message,
                                     canonical_json(reference), metadata))
    return examples
