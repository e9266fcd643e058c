"""The fixed knowledge base behind the ``support`` set: one fictional company, its policies per intent.

Nimbus is a cloud storage and collaboration service (plans Free, Plus, Business, Enterprise) that
also sells a little hardware (Nimbus Vault backup drives, the Nimbus Dock). Every reference answer
is built from the templates below, so answers are specific to the question (they repeat the amounts,
dates, ids and error codes of the query) and consistent across examples: a model can learn them and
ROUGE/embedding metrics can compare them.

Templates use ``{slot}`` fields filled by :func:`evalsets.generators.support.draw_slots`; ``{tier}`` is the
sentence for the customer type (consumer / business / enterprise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CUSTOMER_TYPES = ("consumer", "business", "enterprise")
PRODUCT_AREAS = ("billing", "technical", "account", "shipping")


@dataclass(frozen=True)
class Intent:
    """One customer need: how people ask for it and the policy answer for each customer type."""

    area: str
    key: str
    questions: tuple[str, ...]
    answer: str
    tier: dict[str, str] = field(default_factory=dict)


INTENTS: tuple[Intent, ...] = (
    # ----------------------------------------------------------------- billing
    Intent("billing", "double_charge", (
        "I was charged twice for my {plan} subscription on {date}, {amount} each time.",
        "Why do I see two charges of {amount} from Nimbus on {date}?",
        "My card statement shows a duplicate {amount} payment for the {plan} plan on {date}.",
        "You billed me {amount} two times on {date}. Can you fix this?",
    ), "I'm sorry about the duplicate charge. The second payment of {amount} on {date} is a duplicate, "
       "and I have refunded it to your original payment method. Duplicate charges are reversed within "
       "5-7 business days, depending on your bank. {tier}", {
        "consumer": "You will get a confirmation email as soon as the refund is issued.",
        "business": "The refund also appears as a credit note under Settings > Billing > Invoices.",
        "enterprise": "Your account manager has been copied so the correction also shows on your next "
                      "consolidated invoice.",
    }),
    Intent("billing", "refund_request", (
        "I would like a refund for my {plan} plan that renewed on {date}.",
        "Can I get my money back? My {plan} subscription renewed on {date} and I don't need it anymore.",
        "Please refund the {amount} renewal charge from {date}.",
        "How do I get a refund for the {amount} I paid on {date}?",
    ), "Annual plans can be refunded in full within 14 days of the renewal date; monthly plans are not "
       "refunded, but cancelling stops the next charge. To request a refund for the renewal on {date}, go to "
       "Settings > Billing > Cancel plan and choose Refund. The refund reaches your card within 5-7 "
       "business days. {tier}", {
        "consumer": "Your files stay available in read-only mode for 30 days after you cancel.",
        "business": "Only a workspace admin can cancel a Business plan, so ask your admin if the option is "
                    "greyed out.",
        "enterprise": "Enterprise contracts are refunded according to your order form, so your account "
                      "manager will handle this request.",
    }),
    Intent("billing", "update_payment", (
        "How do I update the credit card on my account? My card ending in {card} expires soon.",
        "I need to change my payment method from the card ending in {card} to a new card.",
        "Where can I add a new card? The one ending in {card} was replaced by my bank.",
        "My card ending in {card} was stolen, how do I remove it from Nimbus?",
    ), "You can update your card under Settings > Billing > Payment methods: add the new card, set it as "
       "default, and then remove the card ending in {card}. We accept Visa, Mastercard, American Express and "
       "PayPal. Nothing is charged when you add a card, and the change applies from your next invoice. {tier}", {
        "consumer": "If a payment fails, we retry it automatically for 7 days before your plan is paused.",
        "business": "Business workspaces can also switch to invoice billing by bank transfer with 30-day "
                    "payment terms.",
        "enterprise": "Enterprise accounts are usually invoiced, so no card is needed if you pay by bank "
                      "transfer; your account manager can confirm your billing method.",
    }),
    Intent("billing", "invoice_copy", (
        "Where can I download the invoice for {month}?",
        "I need a copy of my {month} invoice for my accountant.",
        "Can you send me the invoice for {month} with our VAT number on it?",
        "The {month} invoice shows the wrong company name. How do I correct it?",
    ), "All invoices, including the one for {month}, are available as PDF files under Settings > Billing > "
       "Invoices. To add a company name or VAT number, update Settings > Billing > Billing details, then "
       "regenerate the {month} invoice from the same page. {tier}", {
        "consumer": "Invoices are also emailed to your account address after each payment.",
        "business": "Workspace admins can add a separate billing email so invoices go straight to your "
                    "finance team.",
        "enterprise": "Your account manager can reissue invoices with a purchase order number if your "
                      "finance team needs one.",
    }),
    Intent("billing", "change_plan", (
        "How do I downgrade from {plan} to {lower_plan}?",
        "I want to switch my {plan} plan to {lower_plan}. What happens to my payment?",
        "Can I move from the {plan} plan to {lower_plan} before my renewal on {date}?",
        "We don't need {plan} anymore, is it possible to go down to {lower_plan}?",
    ), "You can change from {plan} to {lower_plan} under Settings > Billing > Change plan. The change takes "
       "effect immediately, and the unused part of your {plan} subscription is added as a prorated credit "
       "to your next invoice. Features that are not part of {lower_plan} are switched off, but no files are "
       "deleted. {tier}", {
        "consumer": "The Free plan includes 5 GB of storage, so uploads pause if you are above that.",
        "business": "Only workspace admins can change the plan, and the change applies to everyone in the "
                    "workspace.",
        "enterprise": "Because Enterprise terms are set by contract, your account manager has to approve "
                      "the change before the end of your current term.",
    }),
    Intent("billing", "failed_payment", (
        "My payment of {amount} failed on {date}, why?",
        "I got an email saying my card was declined. What happens to my {plan} account?",
        "The {plan} renewal payment was declined on {date}. Will I lose access?",
        "Why does Nimbus say my payment of {amount} did not go through?",
    ), "When a payment fails, we retry it automatically after 1, 3 and 7 days, and your {plan} plan stays "
       "fully active during a 14-day grace period. Most declines come from an expired card or a bank "
       "security check, so update your card under Settings > Billing > Payment methods or contact your "
       "bank, then click Retry payment. {tier}", {
        "consumer": "If the payment still fails after 14 days, your account moves to the Free plan and "
                    "nothing is deleted.",
        "business": "After the grace period, the workspace becomes read-only until an admin updates the "
                    "payment method.",
        "enterprise": "Enterprise accounts are never suspended automatically; your account manager will "
                      "contact your finance team first.",
    }),
    # --------------------------------------------------------------- technical
    Intent("technical", "sync_issue", (
        "Files are not syncing in the desktop app on {os}.",
        "My Nimbus desktop app (version {version}) on {os} has been stuck on Syncing for hours.",
        "Changes I make on my {os} computer don't show up on my other devices.",
        "Sync stopped working on {os} after I installed version {version}.",
    ), "Sync problems on {os} are usually fixed by updating the desktop app to the current release, 6.4. "
       "After updating, check that sync is not paused (Nimbus icon > "
       "Resume sync) and that no file is larger than the 50 GB per-file limit. If it is still stuck, sign "
       "out and back in to rebuild the sync index. {tier}", {
        "consumer": "Your files are safe in the cloud while you do this.",
        "business": "If several people in your workspace see this, your admin can check the sync status "
                    "page in the admin console.",
        "enterprise": "If your network uses a proxy, ask your IT team to allow sync.nimbus.example on "
                      "port 443.",
    }),
    Intent("technical", "error_code", (
        "I get error {code} when {action}.",
        "What does error code {code} mean? It shows up every time I try {action}.",
        "Nimbus keeps showing {code} while {action}.",
        "Error {code} appeared when {action} on {os}. How do I fix it?",
    ), "Error {code} means {code_meaning}. To fix it, {code_fix}. If the error continues, send us a report "
       "from Help > Send diagnostics right after it happens so we can check the logs. {tier}", {
        "consumer": "",
        "business": "Workspace admins can see which users hit this error in the admin console under "
                    "Reports.",
        "enterprise": "Your admin can also find these errors in the audit log of the admin console.",
    }),
    Intent("technical", "app_crash", (
        "The Nimbus app crashes as soon as I open it on {os}.",
        "Nimbus closes by itself right after launching on {os}.",
        "Since updating to version {version}, the app keeps crashing on {os}.",
        "The app freezes and then quits on my {os} machine.",
    ), "Sorry about the crashes on {os}. Please clear the app cache ({cache_step}) and restart the app; "
       "this fixes most crashes after an update. If it still closes, reinstall the latest version, 6.4, and "
       "send a crash report from Help > Send diagnostics so our engineers can see the cause. {tier}", {
        "consumer": "",
        "business": "Your workspace data is not affected by reinstalling the app.",
        "enterprise": "If your IT team deploys Nimbus centrally, they can push version 6.4 to every device "
                      "from the admin console.",
    }),
    Intent("technical", "slow_upload", (
        "Uploading a {size} GB folder takes forever.",
        "Uploads are really slow, about {speed} MB/s even though my internet is fast.",
        "Why is it taking hours to upload {size} GB of files to Nimbus?",
        "My uploads crawl at {speed} MB/s on {os}, what can I do?",
    ), "Upload speed is limited by the bandwidth setting of the desktop app, which is set to Automatic by "
       "default and slows down large transfers. Open Preferences > Network and set the upload limit to "
       "Don't limit. Large uploads are also faster in the desktop app than in "
       "the browser, because it sends several files in parallel. {tier}", {
        "consumer": "",
        "business": "For teams in one office, turning on LAN sync lets computers copy files from each "
                    "other instead of downloading them again.",
        "enterprise": "For uploads above 1 TB, your account manager can arrange a Nimbus Vault seeding "
                      "drive that we import directly.",
    }),
    Intent("technical", "integration", (
        "How do I connect Nimbus to {integration}?",
        "Is there a {integration} integration, and how do I set it up?",
        "We want to use {integration} with our Nimbus files. Is that possible on {plan}?",
        "Can I link my Nimbus account with {integration}?",
    ), "You can connect {integration} under Settings > Integrations > {integration}: click Connect, sign in "
       "to {integration} and approve the requested permissions. The {integration} integration is available "
       "on {integration_plans}. {availability}", {}),
    Intent("technical", "api_limit", (
        "Our API calls keep returning 429 Too Many Requests.",
        "What is the API rate limit for my {plan} account?",
        "Our script that calls the Nimbus API gets throttled after a few requests.",
        "We hit the API limit when syncing {size} GB of files. What is the limit?",
    ), "A 429 response means your requests went over the rate limit of your plan: the {plan} plan allows "
       "{api_limit} requests per minute per token. Read the Retry-After header, wait that many seconds "
       "before retrying, and use exponential backoff in your script. {tier}", {
        "consumer": "Upgrading to Business raises the limit to 600 requests per minute.",
        "business": "Batch endpoints count as one request, so batching uploads helps you stay under the "
                    "limit.",
        "enterprise": "If you need more, your account manager can raise the limit for specific tokens.",
    }),
    # ----------------------------------------------------------------- account
    Intent("account", "password_reset", (
        "I didn't receive the password reset email.",
        "I can't reset my password, the link never arrives at {email}.",
        "I forgot my password and the reset email isn't coming.",
        "The password reset link I got at {email} says it expired.",
    ), "Reset emails are sent from no-reply@nimbus.example within a few minutes, so please check your spam "
       "folder and make sure you requested the link for the address on your account. Each link is valid "
       "for 30 minutes and only the newest link works, so request a new one if it has expired. {tier}", {
        "consumer": "If nothing arrives within an hour, reply here and we will verify your identity.",
        "business": "Your workspace admin can also send you a reset link from the admin console under "
                    "Users.",
        "enterprise": "If your company signs in with SSO, your password is managed by your identity "
                      "provider, so your IT team has to reset it.",
    }),
    Intent("account", "lost_2fa", (
        "I lost my {phone} and can't get my two-factor code.",
        "My authenticator app was reset and now I'm locked out of Nimbus.",
        "I got a new {phone} and the two-factor codes no longer work.",
        "How do I sign in without my two-factor code? My {phone} was stolen.",
    ), "You can sign in with one of the recovery codes you saved when you turned on two-factor "
       "authentication; each code works once. If you don't have them, we can verify your identity instead, "
       "which takes 2-3 business days. Once you are back in, set up two-factor authentication again on "
       "your new device. {tier}", {
        "consumer": "For your security, we never turn off two-factor authentication over email or chat.",
        "business": "A workspace admin can reset two-factor authentication for you immediately in the "
                    "admin console.",
        "enterprise": "Your company admin can reset two-factor authentication for you immediately, or your "
                      "IT team if you sign in with SSO.",
    }),
    Intent("account", "change_email", (
        "How do I change the email on my account from {email} to {new_email}?",
        "I need to update my login email to {new_email}.",
        "Please change my account email, the old address {email} no longer works.",
        "Can I switch my Nimbus email to {new_email}?",
    ), "Go to Settings > Profile > Email, enter the new address and confirm with your password. We send a "
       "confirmation link to the new address, and the change takes effect once you click it; the old "
       "address gets a notice as a security check. {tier}", {
        "consumer": "Your files, shares and subscription stay exactly as they are.",
        "business": "If the address is on your company domain, your workspace admin may need to approve "
                    "the change.",
        "enterprise": "If your account is managed by SSO, your IT team has to change the address in your "
                      "identity provider.",
    }),
    Intent("account", "delete_account", (
        "Please delete my account and all my data.",
        "How do I close my Nimbus account permanently?",
        "I want to cancel everything and have my files removed from your servers.",
        "Can you delete the account registered to {email}?",
    ), "You can delete your account under Settings > Privacy > Delete account. Your files are kept for 30 "
       "days in case you change your mind, and then they are permanently erased. We recommend exporting "
       "your data first under Settings > Privacy > Export data. {tier}", {
        "consumer": "Any active Plus subscription is cancelled when the account is deleted.",
        "business": "If you are the only admin of your workspace, assign another admin first, otherwise "
                    "the whole workspace is deleted.",
        "enterprise": "Enterprise accounts are deleted by your company admin, and data retention follows "
                      "your contract.",
    }),
    Intent("account", "add_users", (
        "How do I add {seats} more people to our account?",
        "We have {seats} new people joining. How do we give them access?",
        "Can I invite {seats} colleagues to my Nimbus account?",
        "What does it cost to add {seats} users?",
    ), "{seat_answer}", {}),
    Intent("account", "locked_account", (
        "My account is locked after too many login attempts.",
        "Nimbus says my account is temporarily locked. What do I do?",
        "I typed the wrong password a few times and now I'm locked out.",
        "Why is the account for {email} locked?",
    ), "After 5 failed sign-in attempts, an account is locked for 15 minutes to protect it. Please wait, "
       "then sign in again or use Forgot password to set a new password; the lock is lifted "
       "automatically. {tier}", {
        "consumer": "If you did not make these attempts, turn on two-factor authentication once you are in.",
        "business": "A workspace admin can also unlock your account right away from the admin console.",
        "enterprise": "If you sign in with SSO, the lock comes from your identity provider, so contact "
                      "your IT team.",
    }),
    # ---------------------------------------------------------------- shipping
    Intent("shipping", "where_is_order", (
        "Where is my order {order_id}? I ordered it on {date}.",
        "My {product} (order {order_id}) still hasn't arrived.",
        "Order {order_id} shows as shipped, but there is no package yet.",
        "I'm still waiting for the {product} I ordered on {date}.",
    ), "Standard shipping takes 3-5 business days and express shipping 1-2 business days after dispatch. "
       "You can follow your order with the tracking link in the shipping confirmation email or under "
       "Account > Orders. If it has not arrived 10 business days after dispatch, we send a replacement "
       "at no cost. {tier}", {
        "consumer": "",
        "business": "Business orders are delivered to the address on your workspace unless you chose "
                    "another one at checkout.",
        "enterprise": "Your account manager can check the delivery status with the carrier for you.",
    }),
    Intent("shipping", "damaged_item", (
        "My {product} arrived damaged.",
        "The {product} from order {order_id} came with a cracked case.",
        "I opened the box and the {product} is broken.",
        "Order {order_id} arrived today but the {product} doesn't turn on.",
    ), "I'm sorry your {product} arrived damaged. Please reply with a photo of the item and the box, and "
       "we will ship a replacement within 2 business days; you don't need to return the damaged one. "
       "{tier}", {
        "consumer": "",
        "business": "If several units in the same order are affected, list them all and we replace them "
                    "in one shipment.",
        "enterprise": "Your account manager can arrange an advance replacement for critical equipment.",
    }),
    Intent("shipping", "return_item", (
        "How do I return the {product} I bought?",
        "I want to send back my {product} from order {order_id}.",
        "Can I return the {product}? I ordered it on {date}.",
        "The {product} is not what I expected, I'd like to return it.",
    ), "You can return the {product} within 30 days of delivery. Start the return under Account > Orders > "
       "Return, print the prepaid label and drop the package at any carrier location; the refund is issued "
       "5-7 business days after we receive it. {tier}", {
        "consumer": "",
        "business": "Returns for business orders are refunded to the payment method of the workspace.",
        "enterprise": "Hardware bought under an Enterprise contract is returned through your account "
                      "manager.",
    }),
    Intent("shipping", "change_address", (
        "Can I change the shipping address for order {order_id}?",
        "I entered the wrong address for order {order_id}, I moved to {city}.",
        "Please send order {order_id} to my new address in {city}.",
        "How do I update the delivery address of my {product} order?",
    ), "You can change the address while the order is still in Processing status under Account > Orders > "
       "Edit address. Once it has shipped, we can't redirect it, but you can ask the carrier to hold it at "
       "a pickup point using the tracking link. {tier}", {
        "consumer": "",
        "business": "Workspace admins can change the address for any order placed by the workspace.",
        "enterprise": "Your account manager can redirect enterprise shipments that have not left our "
                      "warehouse.",
    }),
    Intent("shipping", "international", (
        "Do you ship the {product} to {country}?",
        "How long does delivery to {country} take?",
        "Can I order a {product} from {country}?",
        "I live in {country}. Is shipping available there?",
    ), "{ship_answer} {tier}", {
        "consumer": "",
        "business": "For orders of 10 or more units, our sales team can arrange a consolidated delivery.",
        "enterprise": "For orders of 10 or more units, our sales team can arrange a consolidated delivery.",
    }),
)

# Customer context sentences used in medium and long queries, per customer type.
CONTEXT: dict[str, tuple[str, ...]] = {
    "consumer": (
        "I use Nimbus to back up my family photos.",
        "I have been on the Plus plan for two years.",
        "I mostly use Nimbus on my laptop.",
        "I'm a freelance photographer and keep all my work in Nimbus.",
        "I'm a student and use Nimbus for my coursework.",
    ),
    "business": (
        "We are a team of {team} people on the Business plan.",
        "I'm the admin of our design agency's workspace.",
        "Our accounting firm relies on Nimbus every day.",
        "I manage IT for a small law office with {team} staff.",
        "Our {team}-person marketing team shares everything through Nimbus.",
    ),
    "enterprise": (
        "I'm on the IT team of a company with {team_big} employees on Nimbus Enterprise.",
        "We are an Enterprise customer with SSO enabled.",
        "I coordinate the Nimbus rollout for our {team_big} staff.",
        "Our hospital group uses Nimbus Enterprise across several sites.",
        "I'm writing on behalf of our global operations team.",
    ),
}

# Extra detail sentences used in long queries: generic ones per product area (they fit every intent of
# the area) plus specific ones for some intents.
DETAILS: dict[str, tuple[str, ...]] = {
    "billing": (
        "Our finance team is asking me about it.",
        "I need this sorted before the end of the month.",
        "I couldn't find the answer in your help center.",
    ),
    "technical": (
        "This is blocking my work today.",
        "I couldn't find the answer in your help center.",
        "My colleagues asked me to look into it.",
    ),
    "account": (
        "This is quite urgent for me.",
        "I couldn't find the answer in your help center.",
        "I have been a customer for years.",
    ),
    "shipping": (
        "I need it before a trip next week.",
        "It is meant to be a gift.",
        "I'd like to sort this out quickly.",
    ),
}
INTENT_DETAILS: dict[str, tuple[str, ...]] = {
    "double_charge": ("This is the second time this has happened.", "I checked my bank app twice to be sure."),
    "failed_payment": ("The card works fine everywhere else.",),
    "sync_issue": ("I already tried restarting my computer.", "It started after yesterday's update."),
    "app_crash": ("I already tried restarting my computer.", "It started after yesterday's update."),
    "error_code": ("It started after yesterday's update.", "My colleagues don't seem to have the problem."),
    "password_reset": ("I need access for a client meeting today.", "I tried this from two different browsers."),
    "locked_account": ("I need access for a client meeting today.", "I'm worried someone else is trying to get in."),
    "lost_2fa": ("I need access for a client meeting today.", "I have important files in there."),
    "where_is_order": ("The tracking page hasn't changed in days.", "I paid for express delivery."),
    "damaged_item": ("The box itself looked fine.", "I only opened it this morning."),
}

OPENERS_FORMAL = ("Hello,", "Good morning,", "Hi there,", "Dear Nimbus support,", "Hello team,")
CLOSERS_FORMAL = ("Thank you for your help.", "Kind regards, {first}", "Thanks in advance.",
                  "I look forward to your reply.", "Best regards, {first} {last}")
OPENERS_CASUAL = ("hey", "hi", "hey there", "hello?", "ok so")
CLOSERS_CASUAL = ("thx", "thanks!!", "pls help", "any ideas?", "cheers")
