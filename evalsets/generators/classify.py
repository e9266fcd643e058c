"""Generator of the ``classify`` set: route a support ticket to one of seven teams.

Labels are imbalanced on purpose (technical is the largest class, security and feedback the
smallest) but every label has at least 8% of the examples. The assistant reply is exactly the label.
Some templates share vocabulary across labels (a refund of a subscription is ``billing``, a return of
hardware is ``shipping``; a broken preview is ``technical``, a wish for a new preview format is
``feedback``) so the task is not solvable from one keyword.
"""

from __future__ import annotations

import random

from evalsets.generators import vocab
from evalsets.generators.text import add_typos, casualize, chat_example, normalise, weighted_quotas

LABEL_WEIGHTS = {"technical": 0.26, "billing": 0.20, "account": 0.16, "shipping": 0.12, "sales": 0.10,
                 "security": 0.08, "feedback": 0.08}
LABELS = tuple(LABEL_WEIGHTS)
STYLE_WEIGHTS = {"formal": 0.45, "casual": 0.35, "typos": 0.2}
SYSTEM = ("Route the support ticket to one team. Reply with exactly one label: "
          + ", ".join(LABELS) + ".")

TEMPLATES: dict[str, tuple[str, ...]] = {
    "technical": (
        "The desktop app on {os} won't sync my {folder} folder.",
        "I get error {code} every time I try {action}.",
        "The {integration} integration stopped posting updates on {weekday}.",
        "Nimbus crashes on startup on {os} since the {version} update.",
        "Uploads of {filetype} files get stuck at 99% in the browser.",
        "Search returns no results for files I know are in {folder}.",
        "Previews of {filetype} files show a blank page.",
        "Our API calls to the upload endpoint time out after {seconds} seconds.",
        "Shared links to the {folder} folder open a 404 page for people outside the company.",
        "Version history is empty for a document I edited on {weekday}.",
        "Desktop notifications stopped working on {os}.",
        "The mobile app on {os} shows a white screen after the splash logo.",
    ),
    "billing": (
        "I was charged {amount} twice on {date}.",
        "Please send the invoice for {month} with our VAT number on it.",
        "Why did my bill go up to {amount} this month?",
        "My card ending in {card} was declined for the renewal.",
        "I want a refund for the subscription renewal on {date}.",
        "How do I switch from monthly to annual billing?",
        "The {month} invoice lists {seats} seats but we only use {seats_less}.",
        "Can we pay our {month} invoice by bank transfer instead of credit card?",
        "I cancelled my subscription but was still charged {amount} on {date}.",
        "Please update the billing address on our invoices to {city}.",
        "What is the {amount} charge from Nimbus on my statement?",
    ),
    "account": (
        "I can't log in, the password reset email never arrives.",
        "How do I change the email on my account to {email}?",
        "I lost my {phone} and can't get my two-factor code.",
        "Please delete my account and all my data.",
        "My account is locked after too many sign-in attempts.",
        "How do I transfer ownership of our workspace to {name}?",
        "I need to merge two accounts, {email} and my work address.",
        "How can I change my display name to {name}?",
        "Please remove {name} from our workspace, they left the company.",
        "Where do I add {seats} new users to our team?",
    ),
    "shipping": (
        "Order {order_id} hasn't arrived yet, it's been {days} days.",
        "My {product} arrived damaged.",
        "I need to change the delivery address for order {order_id} to {city}.",
        "How do I return the {product} I bought?",
        "Do you ship the {product} to {country}?",
        "The tracking link for order {order_id} shows no updates for {days} days.",
        "I received a {product} instead of the {product_other} I ordered.",
        "Can I upgrade order {order_id} to express delivery?",
        "The package for order {order_id} was left at the wrong address in {city}.",
        "I returned the {product} {days} days ago, has the return arrived?",
    ),
    "sales": (
        "We're a team of {seats} and would like a quote for the Enterprise plan.",
        "Do you offer discounts for nonprofits?",
        "Can we schedule a demo of the admin features for our {team}?",
        "What's the price of {seats} Business seats billed annually?",
        "Is there an education discount for our university in {city}?",
        "We'd like to trial Enterprise for {seats} users before buying.",
        "Who can I talk to about a reseller partnership in {country}?",
        "Do you offer volume pricing for {count} {product} units?",
        "We're comparing Nimbus with {competitor}, can someone walk us through pricing?",
    ),
    "security": (
        "I got an email asking for my Nimbus password, is it phishing?",
        "There was a sign-in to my account from {country} that wasn't me.",
        "I think someone opened our {folder} folder without permission.",
        "I'd like to report a security vulnerability in your {page} page.",
        "Someone shared our confidential {folder} folder publicly.",
        "Can we get your SOC 2 report for our {team}?",
        "My account shows a {os} device I don't recognize.",
        "We received a suspicious invoice email for {amount} that claims to be from Nimbus.",
        "How do we enforce two-factor authentication for all {seats} users?",
    ),
    "feedback": (
        "I love the new dark mode, great job!",
        "It would be great if you added {feature}.",
        "The new file browser layout is confusing, please bring back the old one.",
        "Just wanted to say {name} from your support team was fantastic.",
        "Please add support for {filetype} previews.",
        "The {os} app feels much faster since the last update, thanks.",
        "Your pricing page is hard to understand.",
        "Suggestion: let us pin favourite folders like {folder} in the sidebar.",
        "The app asks me to rate it far too often.",
        "Our {team} would really like {feature}.",
    ),
}
PREFIXES = ("", "", "", "Hi, ", "Hello team, ", "Quick question: ", "Urgent: ", "Hey, ")
SUFFIXES = ("", "", "", " Thanks.", " Please advise.", " Thank you!", " Can you help?")
FOLDERS = ("Projects", "Finance", "Clients", "Photos 2025", "Contracts", "Marketing", "HR", "Design")
FILETYPES = ("PSD", "CAD", "HEIC", "Keynote", "RAW", "SVG", "EPUB", "DOCX")
FEATURES = ("offline folders", "a calendar view", "bulk rename", "file tagging", "guest shared drives",
            "two-way Outlook sync", "a Linux tray icon", "folder colours")
COMPETITORS = ("Dropbox", "Box", "Google Drive", "OneDrive", "iCloud")
TEAMS = ("IT team", "legal team", "finance department", "design studio", "engineering team", "school")
PAGES = ("file sharing", "login", "password reset", "public link", "upload")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def draw_slots(rng: random.Random) -> dict[str, str]:
    """Return a value for every template slot, drawn in a fixed order for one ticket."""
    product, other = rng.sample(vocab.HARDWARE, 2)
    seats = rng.randint(5, 400)
    first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
    return {
        "os": rng.choice(list(vocab.OPERATING_SYSTEMS)),
        "folder": rng.choice(FOLDERS),
        "code": rng.choice(list(vocab.ERROR_CODES)),
        "action": rng.choice(vocab.ACTIONS),
        "integration": rng.choice(list(vocab.INTEGRATIONS)),
        "weekday": rng.choice(WEEKDAYS),
        "version": rng.choice(vocab.APP_VERSIONS),
        "filetype": rng.choice(FILETYPES),
        "seconds": str(rng.choice((10, 30, 60, 90, 120))),
        "amount": f"${rng.randint(9, 4000)}.{rng.choice(('00', '99', '50'))}",
        "date": f"{rng.choice(vocab.MONTHS)} {rng.randint(1, 28)}",
        "month": rng.choice(vocab.MONTHS),
        "card": f"{rng.randint(0, 9999):04d}",
        "seats": str(seats),
        "seats_less": str(max(1, seats - rng.randint(1, 4))),
        "city": rng.choice(vocab.CITIES),
        "email": f"{first.lower()}.{last.lower()}@{rng.choice(vocab.EMAIL_DOMAINS)}",
        "phone": rng.choice(vocab.PHONES),
        "name": f"{first} {last}",
        "order_id": f"NV-{rng.randint(100000, 999999)}",
        "days": str(rng.randint(4, 21)),
        "product": product,
        "product_other": other,
        "country": rng.choice(list(vocab.COUNTRIES)),
        "team": rng.choice(TEAMS),
        "count": str(rng.choice((20, 50, 100, 200, 500))),
        "competitor": rng.choice(COMPETITORS),
        "page": rng.choice(PAGES),
        "feature": rng.choice(FEATURES),
    }


def draw_ticket(rng: random.Random, label: str) -> tuple[str, str]:
    """Return ``(ticket text, query style)`` for one ticket of ``label``."""
    slots = draw_slots(rng)
    prefix, body = rng.choice(PREFIXES), rng.choice(TEMPLATES[label]).format(**slots)
    if prefix.endswith(", ") and body.split()[0] not in ("I", "I'm", "I'd", "Nimbus", "Just"):
        body = body[0].lower() + body[1:]  # "Hi, the app ..." rather than "Hi, The app ..."
    text = prefix + body + rng.choice(SUFFIXES)
    style = rng.choices(list(STYLE_WEIGHTS), weights=list(STYLE_WEIGHTS.values()))[0]
    protect = list(slots.values())
    if style == "casual":
        text = casualize(text, rng, protect=protect)
    elif style == "typos":
        text = add_typos(text, rng, rate=0.2, minimum=1, protect=protect)
    return text, style


def generate_classify(n: int, seed: int = 0) -> list[dict]:
    """Return ``n`` unique routing examples (chat format) with per-label quotas, deterministic per ``seed``."""
    rng = random.Random(f"classify-{seed}")
    quotas = weighted_quotas(LABEL_WEIGHTS, n)
    plan = [label for label, count in quotas.items() for _ in range(count)]
    rng.shuffle(plan)
    examples: list[dict] = []
    seen: set[str] = set()
    for label in plan:
        for _attempt in range(500):
            text, style = draw_ticket(rng, label)
            key = normalise(text)
            if key not in seen:
                break
        else:
            raise RuntimeError(f"classify: could not draw a new unique ticket for label {label!r}")
        seen.add(key)
        metadata = {"category": label, "label": label, "query_style": style}
        examples.append(chat_example(f"classify-{len(examples):05d}", SYSTEM, text, label, metadata))
    return examples
