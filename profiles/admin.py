"""Django admin for templates and service profiles.

Superusers edit templates here (with their versions, variables and outputs) and can repair any
profile. Every form runs the model validation of SPEC §3, so the admin cannot save what the
Studio or the API would refuse; a profile saved here gets a revision like any other change.
"""

import copy
import json
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from profiles import repositories, rules, services
from profiles.forms import (
    JSONValueField,
    SensitiveValueFormMixin,
    SharingFormMixin,
    form_values,
)
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
from profiles.studio_forms import LinesField
from studio.admin_keys import KeyCheckedAdminMixin
from studio.models import Project


class JSONValueAdminMixin:
    """Edit JSON columns with :class:`JSONValueField`: an empty box is the column's default."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField) and db_field.has_default():
            kwargs.setdefault("form_class", JSONValueField)
            kwargs.setdefault("empty", db_field.get_default)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ShareableAdminForm(SharingFormMixin, forms.ModelForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "shared_with" in self.fields:
            self.fields["shared_with"].queryset = Project.objects.pickable()

    def owner(self):
        return self.cleaned_data.get("project") or (
            self.instance.project if self.instance.project_id else None
        )

    def clean(self):
        cleaned = super().clean()
        # (project, name) is unique; say so at the name rather than above the form.
        project, name = cleaned.get("project"), cleaned.get("name")
        if project and name:
            problem = rules.name_taken(self._meta.model, project, name, exclude_pk=self.instance.pk)
            if problem:
                self.add_error("name", problem)
        return cleaned


class RestrictedValuesField(LinesField):
    """Restricted values, one per line (a JSON list, as older pages and scripts send it, is
    still read as the list it is)."""

    def to_python(self, value) -> list[str]:
        text = value.strip() if isinstance(value, str) else value
        if not (isinstance(text, str) and text.startswith("[")):
            return super().to_python(value)
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            raise ValidationError(
                "Enter a valid JSON list of text values, or one value per line.", code="invalid"
            ) from None
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            raise ValidationError(
                "Restricted values must be a list of text values.", code="invalid"
            )
        return parsed


class SettingInlineForm(SensitiveValueFormMixin, forms.ModelForm):
    restricted_values = RestrictedValuesField(
        label="Restricted values",
        required=False,
        help_text="One per line: the only values end users may choose (override “restricted”).",
    )


class TemplateVersionAdminForm(forms.ModelForm):
    """Names the field at fault for the rules the database also enforces as constraints.

    A version with repository code that becomes active (or whose code changes while active) has
    its revision pinned to a commit here, once the fields are valid: a revision git cannot
    resolve, or a commit without the folder and its ``paas.sh``, is refused at its field.
    """

    def _post_clean(self) -> None:
        # The instance still holds the stored values until the model form copies the
        # submitted ones into it (in super()._post_clean()).
        saved = copy.copy(self.instance) if self.instance.pk else None
        super()._post_clean()
        checked = ["state", *TemplateVersion.CODE_FIELDS, "code_inline"]
        if any(field in self.errors for field in checked) or NON_FIELD_ERRORS in self.errors:
            return
        try:
            self.instance.pin_code(saved)
        except repositories.RepositoryProblem as problem:
            self.add_error(problem.field if problem.field in self.fields else None, problem.message)

    def clean(self):
        cleaned = super().clean()
        code_fields = ["code_repository", "code_inline"]
        if not any(field in self.errors for field in code_fields):
            repository = cleaned.get("code_repository", self.instance.code_repository)
            inline = cleaned.get("code_inline", self.instance.code_inline)
            if repository and inline:
                self.add_error(
                    "code_inline" if "code_inline" in self.fields else "code_repository",
                    "Give either a repository URL (with path and revision) or inline code, "
                    "not both.",
                )
            elif not repository and not inline:
                self.add_error(
                    "code_repository",
                    "Give a repository URL (with path and revision) or inline code.",
                )
        template, name = cleaned.get("template"), cleaned.get("name")
        problem = (
            rules.version_name_taken(template, name, exclude_pk=self.instance.pk)
            if template is not None and template.pk and name
            else None
        )
        if problem:
            self.add_error("name", problem)
        return cleaned


class TemplateVersionInline(admin.TabularInline):
    model = TemplateVersion
    form = TemplateVersionAdminForm
    extra = 0
    fields = ["name", "state", "code_repository", "code_path", "code_revision", "settings_link"]
    readonly_fields = ["settings_link"]

    @admin.display(description="Variables and outputs")
    def settings_link(self, version: TemplateVersion):
        """One click to the version's page, where its variables and outputs are edited."""
        if not version.pk:
            return "Save the version first, then edit its variables and outputs."
        url = reverse("admin:profiles_templateversion_change", args=[version.pk])
        return format_html(
            '<a href="{}">Edit {} variable{} and {} output{}</a>',
            url,
            version.variables.count(),
            "" if version.variables.count() == 1 else "s",
            version.outputs.count(),
            "" if version.outputs.count() == 1 else "s",
        )


@admin.register(EnvironmentTemplate)
class EnvironmentTemplateAdmin(KeyCheckedAdminMixin, admin.ModelAdmin):
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


class TemplateVariableInline(JSONValueAdminMixin, admin.StackedInline):
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
class TemplateVersionAdmin(KeyCheckedAdminMixin, admin.ModelAdmin):
    form = TemplateVersionAdminForm
    list_display = ["__str__", "state", "variable_count", "output_count", "created_at"]
    list_filter = ["state", "template__project"]
    search_fields = ["template__name", "name"]
    list_select_related = ["template__project"]
    autocomplete_fields = ["template"]
    fieldsets = [
        (None, {"fields": ["template", "template_link", "name", "state"]}),
        (
            "Code",
            {
                "fields": [
                    "code_repository",
                    "code_path",
                    "code_revision",
                    "code_commit",
                    "code_inline",
                ],
                "description": "Either a repository (with path and revision) or inline code. "
                "Activating a version pins its revision to a commit.",
            },
        ),
    ]
    readonly_fields = ["code_commit", "template_link"]
    inlines = [TemplateVariableInline, TemplateOutputInline]

    @admin.display(description="Back to")
    def template_link(self, version: TemplateVersion):
        """The way back to the template page, with all its versions."""
        if not version.template_id:
            return "—"
        url = reverse("admin:profiles_environmenttemplate_change", args=[version.template_id])
        return format_html('<a href="{}">{} (all its versions)</a>', url, version.template)

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


class FollowsVersionFormSet(BaseInlineFormSet):
    """A profile's input or output rows, which follow its template version.

    A saved row the version does not declare (the superuser just picked another version) is
    dropped on save, as the Studio does, rather than refused row by row; a row renamed to an
    undeclared name is still refused by the model's own check.
    """

    declared_by_version: str  # "variables" or "outputs"

    @cached_property
    def declared(self) -> set[str]:
        version = self.instance.template_version
        return set(getattr(version, self.declared_by_version).values_list("name", flat=True))

    def follows_version(self, form) -> bool:
        """Whether ``form`` is a saved, not renamed row of a name the version does not declare."""
        if form.instance.pk is None or not self.instance.template_version_id:
            return False
        return "name" not in form.changed_data and form.initial.get("name") not in self.declared

    def dropped_names(self) -> list[str]:
        return sorted(form.initial["name"] for form in self.forms if self.follows_version(form))

    def _should_delete_form(self, form) -> bool:
        return super()._should_delete_form(form) or self.follows_version(form)


class InputSettingFormSet(FollowsVersionFormSet):
    declared_by_version = "variables"


class OutputSettingFormSet(FollowsVersionFormSet):
    declared_by_version = "outputs"

    def rows(self) -> list[OutputSetting]:
        """Every output row as this edit leaves it: the kept ones as edited, and the new ones."""
        self.save(commit=False)  # sorts the forms into new, changed and deleted objects
        deleted = {output.pk for output in self.deleted_objects}
        kept = [form.instance for form in self.initial_forms if form.instance.pk not in deleted]
        return [*kept, *self.new_objects]


class InputSettingInline(JSONValueAdminMixin, admin.StackedInline):
    model = InputSetting
    form = SettingInlineForm
    formset = InputSettingFormSet
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
    formset = OutputSettingFormSet
    extra = 0
    fields = ["name", "display_name", "description", "sensitive", "position"]


class ServiceProfileAdminForm(ShareableAdminForm):
    # The revision the page showed, sent back so that a save made from a stale page is refused
    # rather than overwriting what someone saved in between (SPEC §3, Revisions).
    seen_revision = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = ServiceProfile
        fields = ["project", *ServiceProfile.GENERAL_FIELDS, "sharing", "shared_with", "status"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "template_version" in self.fields:
            field = self.fields["template_version"]
            field.queryset = TemplateVersion.objects.filter(
                state=TemplateVersion.State.ACTIVE
            ).select_related("template__project")
            field.error_messages["invalid_choice"] = (
                "Choose an active version of a template available to the project."
            )
        if self.instance.pk:
            self.fields["seen_revision"].initial = self.instance.revision

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            # The admin saves a change in one transaction: the row stays locked from this
            # check to the save, so nobody's save can slip in between.
            try:
                services.lock_for_edit(
                    profile=self.instance, expected_revision=cleaned.get("seen_revision")
                )
            except services.StaleEdit as stale:
                raise ValidationError(str(stale), code="stale") from None
        return cleaned


@admin.register(ServiceProfile)
class ServiceProfileAdmin(KeyCheckedAdminMixin, JSONValueAdminMixin, admin.ModelAdmin):
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
            {"fields": ["project", *ServiceProfile.GENERAL_FIELDS]},
        ),
        ("Sharing", {"fields": ["sharing", "shared_with"]}),
        (
            "Status",
            {
                "fields": [
                    "status",
                    "seen_revision",
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

    def get_inlines(self, request, obj):
        # Input and output rows start from the template version, as in the Studio wizard: a
        # new profile gets them on save and they are edited on its change page, where they
        # are checked against the version (an unsaved profile's rows would not be).
        return self.inlines if obj else []

    def save_model(self, request, obj, form, change) -> None:
        # Through the services, as every other way in: a new profile with its input and output
        # rows and revision 1 here; a change with its inline rows, in save_related.
        if not change:
            with services.creating_profile(project=obj.project, name=obj.name):
                services.add_profile(
                    profile=obj, actor=request.user, shared_with=form.cleaned_data["shared_with"]
                )
            if added := ", ".join(setting.name for setting in obj.inputs.all()):
                follows = f"Input settings now follow {obj.template_version}"
                self.say_on_commit(request, [f"{follows}: added {added}; removed none."])

    def save_related(self, request, form, formsets, change) -> None:
        if not change:
            return  # add_profile saved everything the add page has
        profile = form.instance
        inline = {formset.declared_by_version: formset for formset in formsets}
        inputs, outputs = inline.get("variables"), inline.get("outputs")
        # Rows of what the (new) version no longer declares, dropped by the formsets.
        inputs_dropped = inputs.dropped_names() if inputs else []
        outputs_dropped = outputs.dropped_names() if outputs else []
        columns = {field.name for field in ServiceProfile._meta.concrete_fields}
        output_rows = outputs.rows() if outputs else []  # sorts the rows for the change log
        outputs_changed = outputs is not None and (outputs.has_changed() or outputs_dropped)
        saved = services.update_profile(
            profile=profile,
            actor=request.user,
            expected_revision=None,  # checked, and locked, by the form
            changes=form_values(form, [field for field in form.cleaned_data if field in columns]),
            shared_with=form.cleaned_data.get("shared_with"),
            inputs=inputs.save(commit=False) if inputs else (),
            # A deleted row starts again from the template's settings (by the name it had).
            reset_inputs=[f.initial["name"] for f in inputs.deleted_forms if f.instance.pk]
            if inputs
            else (),
            outputs=output_rows if outputs_changed else None,
            reconcile=True,  # rows out of step with the version (edited since) are repaired
        )
        said = []
        removed = sorted({*saved.inputs_removed, *inputs_dropped})
        if saved.inputs_added or removed:
            said.append(
                "Input settings now follow "
                f"{profile.template_version}: added {', '.join(saved.inputs_added) or 'none'}; "
                f"removed {', '.join(removed) or 'none'}."
            )
        if dropped := sorted({*saved.outputs_dropped, *outputs_dropped}):
            said.append(
                f"Outputs {profile.template_version} does not declare are no longer shown: "
                f"{', '.join(dropped)}."
            )
        self.say_on_commit(request, said)

    @staticmethod
    def say_on_commit(request, said: list[str]) -> None:
        """Tell the user once the admin's transaction has committed, never of a rolled back save."""
        for message in said:
            transaction.on_commit(partial(messages.info, request, message))

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Revisions go with their profile (the "deleted" event keeps the final document); that
        # nobody may delete one by itself must not stop the profile from being deleted.
        perms_needed.discard(ProfileRevision._meta.verbose_name)
        return deleted, counts, perms_needed, protected

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
