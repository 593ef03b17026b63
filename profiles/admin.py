"""Django admin for templates and service profiles.

Superusers edit templates here (with their versions, variables and outputs) and can repair any
profile. Every form runs the model validation of SPEC §3, so the admin cannot save what the
Studio or the API would refuse; a profile saved here gets a revision like any other change.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from profiles import services
from profiles.forms import SensitiveValueFormMixin, SharingFormMixin
from profiles.models import (
    EnvironmentTemplate,
    InputSetting,
    OutputSetting,
    ProfileEvent,
    ProfileRevision,
    ServiceProfile,
    TemplateOutput,
    TemplateVariable,
    TemplateVersion,
)
from studio.models import Project


class ShareableAdminForm(SharingFormMixin, forms.ModelForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "shared_with" in self.fields:
            self.fields["shared_with"].queryset = Project.objects.pickable()

    def owner(self):
        return self.cleaned_data.get("project") or (
            self.instance.project if self.instance.project_id else None
        )


class SettingInlineForm(SensitiveValueFormMixin, forms.ModelForm):
    pass


class TemplateVersionInline(admin.TabularInline):
    model = TemplateVersion
    extra = 0
    fields = ["name", "state", "code_repository", "code_path", "code_revision", "variable_count"]
    readonly_fields = ["variable_count"]
    show_change_link = True

    @admin.display(description="Variables")
    def variable_count(self, version: TemplateVersion) -> str:
        return str(version.variables.count()) if version.pk else "—"


@admin.register(EnvironmentTemplate)
class EnvironmentTemplateAdmin(admin.ModelAdmin):
    form = ShareableAdminForm
    list_display = ["name", "display_name", "project", "sharing", "version_count", "modified_at"]
    list_filter = ["sharing", "project"]
    search_fields = ["name", "display_name", "description"]
    list_select_related = ["project"]
    filter_horizontal = ["shared_with"]
    inlines = [TemplateVersionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(version_count=Count("versions"))

    @admin.display(description="Versions", ordering="version_count")
    def version_count(self, template: EnvironmentTemplate) -> int:
        return template.version_count

    def get_readonly_fields(self, request, obj=None):
        return ["project", "name"] if obj else []


class TemplateVariableInline(admin.StackedInline):
    model = TemplateVariable
    form = SettingInlineForm
    extra = 0
    fields = [
        ("name", "value_type", "position"),
        "value",
        "description",
        ("required", "sensitive"),
        ("override", "restricted_values"),
    ]


class TemplateOutputInline(admin.TabularInline):
    model = TemplateOutput
    extra = 0
    fields = ["name", "description", "sensitive", "position"]


@admin.register(TemplateVersion)
class TemplateVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "state", "variable_count", "output_count", "created_at"]
    list_filter = ["state", "template__project"]
    search_fields = ["template__name", "name"]
    list_select_related = ["template__project"]
    autocomplete_fields = ["template"]
    fieldsets = [
        (None, {"fields": ["template", "name", "state"]}),
        (
            "Code",
            {
                "fields": ["code_repository", "code_path", "code_revision", "code_inline"],
                "description": "Either a repository (with path and revision) or inline code.",
            },
        ),
    ]
    inlines = [TemplateVariableInline, TemplateOutputInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                variable_count=Count("variables", distinct=True),
                output_count=Count("outputs", distinct=True),
            )
        )

    @admin.display(description="Variables", ordering="variable_count")
    def variable_count(self, version: TemplateVersion) -> int:
        return version.variable_count

    @admin.display(description="Outputs", ordering="output_count")
    def output_count(self, version: TemplateVersion) -> int:
        return version.output_count


class InputSettingInline(admin.StackedInline):
    model = InputSetting
    form = SettingInlineForm
    extra = 0
    fields = [
        ("name", "position"),
        ("display_name", "value"),
        "description",
        ("required", "sensitive"),
        ("override", "restricted_values"),
    ]


class OutputSettingInline(admin.TabularInline):
    model = OutputSetting
    extra = 0
    fields = ["name", "display_name", "description", "sensitive", "position"]


class ServiceProfileAdminForm(ShareableAdminForm):
    class Meta:
        model = ServiceProfile
        fields = [
            "project",
            "name",
            "display_name",
            "description",
            "template_version",
            "service_type",
            "icon_url",
            "readme",
            "labels",
            "annotations",
            "extra_config",
            "sharing",
            "shared_with",
            "status",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "template_version" in self.fields:
            self.fields["template_version"].queryset = TemplateVersion.objects.filter(
                state=TemplateVersion.State.ACTIVE
            ).select_related("template__project")


@admin.register(ServiceProfile)
class ServiceProfileAdmin(admin.ModelAdmin):
    form = ServiceProfileAdminForm
    list_display = [
        "name",
        "display_name",
        "project",
        "service_type",
        "status",
        "sharing",
        "revision",
        "created_at",
    ]
    list_filter = ["service_type", "status", "sharing", "project"]
    search_fields = ["name", "display_name", "description"]
    list_select_related = ["project"]
    filter_horizontal = ["shared_with"]
    readonly_fields = ["revision", "created_at", "created_by", "modified_at", "modified_by"]
    fieldsets = [
        (
            "General",
            {
                "fields": [
                    "project",
                    "name",
                    "display_name",
                    "description",
                    "template_version",
                    "service_type",
                    "icon_url",
                    "readme",
                    "labels",
                    "annotations",
                    "extra_config",
                ]
            },
        ),
        ("Sharing", {"fields": ["sharing", "shared_with"]}),
        (
            "Status",
            {
                "fields": [
                    "status",
                    "revision",
                    "created_at",
                    "created_by",
                    "modified_at",
                    "modified_by",
                ]
            },
        ),
    ]
    inlines = [InputSettingInline, OutputSettingInline]

    def get_readonly_fields(self, request, obj=None):
        # The unique name (and the owning project) never change after creation.
        fixed = ["project", "name"] if obj else []
        return [*fixed, *self.readonly_fields]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        obj.modified_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        profile = form.instance
        added, removed = services.reconcile_inputs(profile=profile)
        if added or removed:
            messages.info(
                request,
                "Input settings now follow "
                f"{profile.template_version}: added {', '.join(added) or 'none'}; "
                f"removed {', '.join(removed) or 'none'}.",
            )
        services.commit_revision(profile=profile, actor=request.user)

    def delete_model(self, request, obj) -> None:
        services.delete_profile(profile=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for profile in queryset:
            services.delete_profile(profile=profile, actor=request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the services, never edited by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProfileRevision)
class ProfileRevisionAdmin(ReadOnlyAdmin):
    list_display = ["profile", "number", "author", "created_at"]
    list_filter = ["profile__project"]
    search_fields = ["profile__name"]
    list_select_related = ["profile__project", "author"]
    exclude = ["secrets"]


@admin.register(ProfileEvent)
class ProfileEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "project", "profile_link", "action", "revision", "actor_name"]
    list_filter = ["action", "project"]
    search_fields = ["profile_name", "actor_name"]
    list_select_related = ["project", "profile"]

    @admin.display(description="Profile", ordering="profile_name")
    def profile_link(self, event: ProfileEvent) -> str:
        if event.profile_id is None:
            return format_html("{} <em>(deleted)</em>", event.profile_name)
        url = reverse("admin:profiles_serviceprofile_change", args=[event.profile_id])
        return format_html('<a href="{}">{}</a>', url, event.profile_name)
