"""Django admin for the tenancy core."""

from django.contrib import admin
from django.db.models import Count

from studio.admin_keys import KeyCheckedAdminMixin
from studio.models import ApiKey, Membership, Project


class MembershipInline(KeyCheckedAdminMixin, admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Project)
class ProjectAdmin(KeyCheckedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "display_name", "member_count", "created_at"]
    search_fields = ["name", "display_name", "description"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, project: Project) -> int:
        return project.member_count

    def get_readonly_fields(self, request, obj=None):
        # Names appear in URLs and documents; they do not change after creation.
        return ["name"] if obj else []

    def get_inlines(self, request, obj):
        return [] if obj and obj.is_system_catalog else self.inlines


@admin.register(Membership)
class MembershipAdmin(KeyCheckedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "user__email", "project__name"]
    autocomplete_fields = ["user", "project"]
    list_select_related = ["user", "project"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued by their owners on the API Keys page; here they can only be revoked."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "prefix"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    fields = [*readonly_fields, "revoked_at"]

    def has_add_permission(self, request) -> bool:
        return False
