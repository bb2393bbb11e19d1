"""The tables, one store class each: the only code that touches DynamoDB."""

from .email_claims import EmailClaimsStore
from .entitlements import EntitlementsStore
from .profiles import EMAIL_INDEX, STRIPE_CUSTOMER_INDEX, CustomerLinkOutcome, ProfilesStore
from .records import EmailClaim, EntitlementRecord, EntitlementStatus, ProfileRecord, Rejection, UnlinkedCustomer
from .table import Item, Table
from .unlinked_customers import UnlinkedCustomersStore

__all__ = [
    "EMAIL_INDEX",
    "STRIPE_CUSTOMER_INDEX",
    "CustomerLinkOutcome",
    "EmailClaim",
    "EmailClaimsStore",
    "EntitlementRecord",
    "EntitlementStatus",
    "EntitlementsStore",
    "Item",
    "ProfileRecord",
    "ProfilesStore",
    "Rejection",
    "Table",
    "UnlinkedCustomer",
    "UnlinkedCustomersStore",
]
