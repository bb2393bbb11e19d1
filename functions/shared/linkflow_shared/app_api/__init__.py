"""The app's side: ``GET /me``, checkout and the billing portal, behind the Cognito JWT authorizer."""

from .models import ApiRequest, ApiResponse, CheckoutRequest, PortalRequest
from .steps import AppConfig, create_checkout_session, create_portal_session, get_me, under_origin

__all__ = [
    "ApiRequest",
    "ApiResponse",
    "AppConfig",
    "CheckoutRequest",
    "PortalRequest",
    "create_checkout_session",
    "create_portal_session",
    "get_me",
    "under_origin",
]
