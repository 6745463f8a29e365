from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from simple_history.admin import SimpleHistoryAdmin

from .models import ApiToken, Integration, User

# The Django admin is for superusers only; everyone else works in the product's own pages,
# where every write goes through a service and is audited with a reason.
admin.site.has_permission = lambda request: request.user.is_active and request.user.is_superuser


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, ("Reporting line", {"fields": ("manager",)}))
    list_display = ("username", "email", "first_name", "last_name", "manager", "is_active")
    list_select_related = ("manager",)


@admin.register(Integration)
class IntegrationAdmin(SimpleHistoryAdmin):
    list_display = ("name", "system", "service_user", "created_at")
    readonly_fields = ("service_user",)


@admin.register(ApiToken)
class ApiTokenAdmin(SimpleHistoryAdmin):
    list_display = ("name", "prefix", "user", "integration", "created_at", "revoked_at")
    readonly_fields = (
        "key_hash",
        "prefix",
        "user",
        "integration",
        "created_at",
        "created_by",
        "revoked_at",
        "revoked_by",
    )

    def has_add_permission(self, request):
        # Tokens are created by `manage.py create_integration_token` or on the account page,
        # which show the secret once.
        return False
