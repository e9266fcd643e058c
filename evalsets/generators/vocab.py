"""Vocabularies shared by the generators (names, dates, systems, places, products)."""

from __future__ import annotations

FIRST_NAMES = (
    "Maria", "James", "Aisha", "Lukas", "Priya", "Tom", "Sofia", "Daniel", "Mei", "Omar", "Hannah",
    "Carlos", "Yuki", "Grace", "Ivan", "Fatima", "Noah", "Elena", "Kwame", "Chloe", "Arjun", "Laura",
    "Mateo", "Zoe", "Samuel", "Ingrid", "Ravi", "Emma", "Diego", "Nadia", "Oliver", "Leila", "Ben",
    "Ana", "Felix", "Rosa", "Hugo", "Amara", "Jonas", "Clara",
)
LAST_NAMES = (
    "Lopez", "Smith", "Khan", "Schmidt", "Patel", "Baker", "Rossi", "Kim", "Chen", "Haddad", "Muller",
    "Garcia", "Tanaka", "Okafor", "Novak", "Rahman", "Wilson", "Petrova", "Mensah", "Dubois", "Sharma",
    "Fischer", "Silva", "Nguyen", "Brown", "Larsen", "Iyer", "Moreau", "Santos", "Ali", "Evans",
    "Costa", "Weber", "Jensen", "Romero", "Kowalski", "Park", "Adeyemi", "Berg", "Hughes",
)
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "fastmail.com")

OPERATING_SYSTEMS = {
    # name -> how to clear the app cache there
    "Windows 11": "delete the folder %LOCALAPPDATA%\\Nimbus\\cache",
    "Windows 10": "delete the folder %LOCALAPPDATA%\\Nimbus\\cache",
    "macOS Sonoma": "delete the folder ~/Library/Caches/Nimbus",
    "macOS Ventura": "delete the folder ~/Library/Caches/Nimbus",
    "Ubuntu 22.04": "delete the folder ~/.cache/nimbus",
    "Fedora 40": "delete the folder ~/.cache/nimbus",
    "iOS 17": "Settings > Nimbus > Clear cache",
    "Android 14": "Settings > Apps > Nimbus > Storage > Clear cache",
}
APP_VERSIONS = ("5.2", "5.4", "5.6", "5.8", "5.9", "6.0", "6.1", "6.2", "6.3")

ERROR_CODES = {
    # code -> (meaning, fix)
    "E401": ("your session has expired", "sign out and sign back in; sessions expire after 30 days"),
    "E403": ("you don't have permission for that file or folder",
             "ask the owner or a workspace admin to give you edit access"),
    "E413": ("the file is larger than the 50 GB upload limit",
             "split the file into smaller parts or compress it before uploading"),
    "E429": ("too many requests were sent in a short time", "wait 60 seconds and try again"),
    "E503": ("the service is temporarily unavailable",
             "check status.nimbus.example for an ongoing incident and retry in a few minutes"),
    "E507": ("your storage is full", "delete files you no longer need or upgrade your plan for more space"),
}
ACTIONS = (
    "uploading a file", "opening a shared folder", "saving a document", "signing in",
    "moving a folder", "downloading a large file", "sharing a link", "restoring an old version",
)

INTEGRATIONS = {
    # name -> (plans that include it, minimum plan rank: 0 Free, 1 Plus, 2 Business, 3 Enterprise)
    "Slack": ("the Business and Enterprise plans", 2),
    "Microsoft Teams": ("the Business and Enterprise plans", 2),
    "Google Drive": ("every plan, including Free", 0),
    "Zapier": ("the Plus, Business and Enterprise plans", 1),
    "Salesforce": ("the Enterprise plan only", 3),
    "Dropbox": ("every plan, including Free", 0),
    "Jira": ("the Business and Enterprise plans", 2),
    "Trello": ("the Plus, Business and Enterprise plans", 1),
}
PLAN_RANK = {"Free": 0, "Plus": 1, "Business": 2, "Enterprise": 3}

HARDWARE = ("Nimbus Vault 2 TB drive", "Nimbus Vault 4 TB drive", "Nimbus Vault 8 TB drive", "Nimbus Dock",
            "Nimbus Key security key", "Nimbus travel case")
PHONES = ("phone", "iPhone", "Android phone", "Pixel", "Galaxy phone")

# country -> whether Nimbus ships hardware there
COUNTRIES = {
    "Canada": True, "the United Kingdom": True, "Germany": True, "France": True, "Spain": True,
    "Italy": True, "the Netherlands": True, "Ireland": True, "Sweden": True, "Portugal": True,
    "Brazil": False, "India": False, "Japan": False, "Mexico": False, "South Africa": False,
    "Australia": False, "Singapore": False, "Turkey": False,
}
CITIES = (
    "Denver", "Austin", "Seattle", "Boston", "Chicago", "Portland", "Atlanta", "Phoenix", "Miami",
    "Toronto", "Vancouver", "Dublin", "Leeds", "Lyon", "Munich", "Madrid",
)
