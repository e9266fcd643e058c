"""Generator of the ``support`` set: customer questions and policy answers from :mod:`support_kb`.

Each example combines an intent (product area), a customer type, a query style (formal, casual,
typos) and a query length; slot values (amounts, dates, ids, systems) make every question unique and
are repeated in the reference answer, so the answer is specific to the question.
"""

from __future__ import annotations

import random

from evalsets.generators import vocab
from evalsets.generators.support_kb import (
    CLOSERS_CASUAL,
    CLOSERS_FORMAL,
    CONTEXT,
    DETAILS,
    INTENT_DETAILS,
    INTENTS,
    OPENERS_CASUAL,
    OPENERS_FORMAL,
    Intent,
)
from evalsets.generators.text import add_typos, casualize, chat_example, length_bucket, normalise

SYSTEM_TEMPLATE = (
    "You are a support agent for Nimbus, a cloud storage service. Answer the customer in 2-4 sentences, "
    "following Nimbus policy. Customer: {customer}."
)
CUSTOMER_LABELS = {
    "consumer": "consumer on the Plus plan",
    "business": "business customer on the Business plan",
    "enterprise": "enterprise customer on the Enterprise plan",
}
AREA_WEIGHTS = {"billing": 0.3, "technical": 0.3, "account": 0.25, "shipping": 0.15}
CUSTOMER_WEIGHTS = {"consumer": 0.5, "business": 0.3, "enterprise": 0.2}
STYLE_WEIGHTS = {"formal": 0.45, "casual": 0.35, "typos": 0.2}
LENGTH_WEIGHTS = {"short": 0.35, "medium": 0.4, "long": 0.25}

PLANS = {"consumer": "Plus", "business": "Business", "enterprise": "Enterprise"}
LOWER_PLANS = {"consumer": "Free", "business": "Plus", "enterprise": "Business"}
API_LIMITS = {"consumer": "60", "business": "600", "enterprise": "6,000"}
SEAT_ANSWERS = {
    "consumer": "The Plus plan is for one person, but the Family option shares it with up to 5 people for "
                "$14.99 per month; switch to it under Settings > Billing > Change plan. Each of the {seats} "
                "people then gets their own login and 1 TB of storage.",
    "business": "Invite the {seats} new members from the admin console under Users > Invite by entering "
                "their email addresses. Each new seat costs $15 per month and is prorated for the rest of "
                "your billing period. Only workspace admins can send invitations.",
    "enterprise": "Your admin can add the {seats} users from the admin console under Users > Invite, or they "
                  "are created automatically at first sign-in if you use SSO provisioning. Seats above the "
                  "number in your contract are billed quarterly at your contracted rate, and your account "
                  "manager can adjust the contract.",
}
SHIP_YES = ("Yes, we ship Nimbus hardware to {country}. International delivery "
            "takes 7-12 business days, and customs duties or import taxes are paid by the recipient on "
            "delivery.")
SHIP_NO = ("We don't ship hardware to {country} yet; we currently deliver to the United States, Canada, the "
           "United Kingdom and the European Union. Your Nimbus account and cloud storage work in {country} "
           "without any restriction.")


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    """Return one key of ``weights`` drawn with those relative weights."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def draw_slots(rng: random.Random, customer_type: str) -> dict[str, str]:
    """Return a value for every template slot, drawn for one example (always in the same order)."""
    first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
    plan = PLANS[customer_type]
    amount = {
        "consumer": lambda: rng.choice(("$9.99", "$99.00", "$14.99", "$149.00", "$119.88")),
        "business": lambda: f"${15 * rng.randint(3, 60):,}.00",
        "enterprise": lambda: f"${100 * rng.randint(40, 900):,}.00",
    }[customer_type]()
    os_name = rng.choice(list(vocab.OPERATING_SYSTEMS))
    code = rng.choice(list(vocab.ERROR_CODES))
    integration = rng.choice(list(vocab.INTEGRATIONS))
    plans_text, min_rank = vocab.INTEGRATIONS[integration]
    if vocab.PLAN_RANK[plan] >= min_rank:
        availability = f"Your {plan} plan includes it, so you can set it up right away."
    else:
        needed = [name for name, rank in vocab.PLAN_RANK.items() if rank == min_rank][0]
        availability = f"Your {plan} plan does not include it, so you would need to upgrade to {needed} first."
    seats = {"consumer": (2, 4), "business": (3, 25), "enterprise": (20, 200)}[customer_type]
    country = rng.choice(list(vocab.COUNTRIES))
    slots = {
        "first": first,
        "last": last,
        "plan": plan,
        "lower_plan": LOWER_PLANS[customer_type],
        "amount": amount,
        "date": f"{rng.choice(vocab.MONTHS)} {rng.randint(1, 28)}",
        "month": rng.choice(vocab.MONTHS),
        "card": f"{rng.randint(0, 9999):04d}",
        "os": os_name,
        "cache_step": vocab.OPERATING_SYSTEMS[os_name],
        "version": rng.choice(vocab.APP_VERSIONS),
        "code": code,
        "code_meaning": vocab.ERROR_CODES[code][0],
        "code_fix": vocab.ERROR_CODES[code][1],
        "action": rng.choice(vocab.ACTIONS),
        "integration": integration,
        "integration_plans": plans_text,
        "availability": availability,
        "api_limit": API_LIMITS[customer_type],
        "email": f"{first.lower()}.{last.lower()}@{rng.choice(vocab.EMAIL_DOMAINS)}",
        "new_email": f"{first.lower()}{rng.randint(1, 99)}@{rng.choice(vocab.EMAIL_DOMAINS)}",
        "phone": rng.choice(vocab.PHONES),
        "product": rng.choice(vocab.HARDWARE),
        "order_id": f"NV-{rng.randint(100000, 999999)}",
        "country": country,
        "city": rng.choice(vocab.CITIES),
        "size": str(rng.choice((5, 10, 20, 40, 80, 120, 250, 500))),
        "speed": rng.choice(("0.5", "1", "2", "3")),
        "seats": str(rng.randint(*seats)),
        "team": str(rng.randint(5, 60)),
        "team_big": f"{100 * rng.randint(5, 200):,}",
    }
    slots["seat_answer"] = SEAT_ANSWERS[customer_type].format(**slots)
    slots["ship_answer"] = (SHIP_YES if vocab.COUNTRIES[country] else SHIP_NO).format(**slots)
    return slots


def build_answer(intent: Intent, slots: dict[str, str], customer_type: str) -> str:
    """Return the policy answer for ``intent`` with the slots and the customer-type sentence filled in."""
    tier = intent.tier.get(customer_type, "").format(**slots)
    return " ".join(intent.answer.format(**slots, tier=tier).split())


def build_query(rng: random.Random, intent: Intent, slots: dict[str, str], customer_type: str,
                style: str, target_length: str) -> str:
    """Return the customer's message: core question plus context/details for the target length, styled."""
    base_style = style if style != "typos" else rng.choice(("formal", "casual"))
    openers, closers = (OPENERS_FORMAL, CLOSERS_FORMAL) if base_style == "formal" else (OPENERS_CASUAL,
                                                                                        CLOSERS_CASUAL)
    # Formal messages read like an email (greeting and sign-off on their own lines), casual ones like chat.
    joiner = "\n" if base_style == "formal" else " "
    opener = rng.choice(openers) if target_length != "short" and rng.random() < 0.7 else ""
    body: list[str] = []
    if target_length == "long" or (target_length == "medium" and rng.random() < 0.5):
        body.append(rng.choice(CONTEXT[customer_type]))
    body.append(rng.choice(intent.questions))
    if target_length == "long":
        details = INTENT_DETAILS.get(intent.key, ()) + DETAILS[intent.area]
        body.extend(rng.sample(details, k=rng.choice((1, 2))))
    closer = rng.choice(closers) if target_length != "short" and rng.random() < 0.6 else ""
    text = joiner.join(part for part in (opener, " ".join(body), closer) if part).format(**slots)
    protect = [v for k, v in slots.items() if k not in ("seat_answer", "ship_answer", "availability")]
    if base_style == "casual":
        text = casualize(text, rng, protect=protect)
    if style == "typos":
        text = add_typos(text, rng, protect=protect)
    return text


def generate_support(n: int, seed: int = 0) -> list[dict]:
    """Return ``n`` unique support examples (chat format), deterministic for a given ``seed``."""
    rng = random.Random(f"support-{seed}")
    by_area: dict[str, list[Intent]] = {}
    for intent in INTENTS:
        by_area.setdefault(intent.area, []).append(intent)
    examples: list[dict] = []
    seen: set[str] = set()
    attempts = 0
    while len(examples) < n:
        attempts += 1
        if attempts > 50 * n:
            raise RuntimeError(f"support: could only generate {len(examples)} unique examples of {n}")
        area = _pick(rng, AREA_WEIGHTS)
        intent = rng.choice(by_area[area])
        customer_type = _pick(rng, CUSTOMER_WEIGHTS)
        style = _pick(rng, STYLE_WEIGHTS)
        target_length = _pick(rng, LENGTH_WEIGHTS)
        slots = draw_slots(rng, customer_type)
        query = build_query(rng, intent, slots, customer_type, style, target_length)
        key = normalise(query)
        if key in seen:
            continue
        seen.add(key)
        metadata = {
            "category": area,
            "product_area": area,
            "intent": intent.key,
            "customer_type": customer_type,
            "query_style": style,
            "length_bucket": length_bucket(query),
        }
        system = SYSTEM_TEMPLATE.format(customer=CUSTOMER_LABELS[customer_type])
        examples.append(chat_example(f"support-{len(examples):05d}", system, query,
                                     build_answer(intent, slots, customer_type), metadata))
    return examples
