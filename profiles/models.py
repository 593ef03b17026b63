"""Environment templates, the service profiles built on them, and their history (SPEC §3)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Case, Q, Value, When

from profiles import repositories, rules
from profiles.choices import (
    Override,
    ServiceType,
    Sharing,
    Status,
    Step,
    ValueType,
    VersionState,
)
from profiles.validators import (
    DESCRIPTION_MAX_LENGTH,
    DISPLAY_NAME_MAX_LENGTH,
    ICON_URL_MAX_LENGTH,
    REPOSITORY_URL_MAX_LENGTH,
    VERSION_NAME_PATTERN,
    validate_annotations,
    validate_extra_config,
    validate_icon_url,
    validate_labels,
    validate_readme,
    validate_repository_url,
    validate_variable_name,
    validate_version_name,
)
from studio.fields import EncryptedTextField
from studio.models import SYSTEM_CATALOG, Project
from studio.validators import (
    RESOURCE_NAME_PATTERN,
    validate_listed_name,
    validate_resource_name,
)

# TextField's max_length sizes form fields only; this makes model validation check it too.
_description_length = MaxLengthValidator(DESCRIPTION_MAX_LENGTH)


def _name_constraints() -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(name__regex=RESOURCE_NAME_PATTERN),
            name="%(app_label)s_%(class)s_name_format",
            violation_error_message="The unique name breaks the naming rule.",
        ),
        models.CheckConstraint(
            condition=~Q(display_name=""),
            name="%(app_label)s_%(class)s_display_name_required",
            violation_error_message="A display name is required.",
        ),
        models.CheckConstraint(
            condition=Q(sharing__in=Sharing.values),
            name="%(app_label)s_%(class)s_sharing_valid",
            violation_error_message="Sharing must be none, all or selected.",
        ),
    ]


class ShareableQuerySet(models.QuerySet):
    """The sharing rule (SPEC §2) for rows a project owns and may share: templates, profiles."""

    def available_to(self, project: Project) -> "ShareableQuerySet":
        """Rows ``project`` may use: its own, everything in the system catalog, rows shared
        with all projects, and rows shared with it by name."""
        return self.filter(self.available_q(project))

    def available_q(self, project: Project) -> Q:
        """:meth:`available_to` as a condition, to combine with others in one filter.

        The selected-projects case is a subquery, so the result has no duplicates and needs no
        ``distinct()``.
        """
        through = self.model.shared_with.through
        selected = through.objects.filter(project=project).values(self.model._meta.model_name)
        return (
            Q(project=project)
            | Q(project__name=SYSTEM_CATALOG)
            | Q(sharing=Sharing.ALL)
            | Q(sharing=Sharing.SELECTED, pk__in=selected)
        )

    def first_as_seen_by(self, project: Project):
        """Of same-named rows ``project`` may see: its own, else the system catalog's, else the
        one of the first owning project by name. One query."""
        preference = Case(
            When(project=project, then=Value(0)),
            When(project__name=SYSTEM_CATALOG, then=Value(1)),
            default=Value(2),
        )
        return self.order_by(preference, "project__name").first()


class Shareable(models.Model):
    """Owned by one project, optionally shared with all or selected other projects."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="%(class)ss")
    sharing = models.CharField(max_length=10, choices=Sharing.choices, default=Sharing.NONE)
    shared_with = models.ManyToManyField(
        Project,
        blank=True,
        related_name="%(class)s_shared_into",
        help_text="The other projects it is shared with, for Selected Projects.",
    )

    class Meta:
        abstract = True

    def is_available_to(self, project: Project) -> bool:
        """:meth:`ShareableQuerySet.available_q` for one loaded row, answered in Python.

        Reads ``project`` and, when shared with selected projects, ``shared_with.all()``, so a
        batch that prefetched them asks the database nothing.
        """
        if self.project_id == project.pk or self.project.is_system_catalog:
            return True
        if self.sharing == Sharing.ALL:
            return True
        return self.sharing == Sharing.SELECTED and any(
            p.pk == project.pk for p in self.shared_with.all()
        )

    def seen_order(self, project: Project) -> tuple[int, str]:
        """Where this row comes among same-named ones ``project`` may see, as
        :meth:`ShareableQuerySet.first_as_seen_by` orders them."""
        if self.project_id == project.pk:
            return (0, "")
        return (1 if self.project.is_system_catalog else 2, self.project.name)


class SettingRules(models.Model):
    """What a variable (template) or an input (profile) says about its value.

    ``value`` holds non-sensitive values; a sensitive one lives in ``secret``, encrypted, and the
    database refuses a sensitive row with text in ``value`` (constraint ``no_plain_secret``).
    """

    value = models.TextField("Default value", blank=True)
    secret = EncryptedTextField(blank=True, editable=False)
    required = models.BooleanField(default=False)
    sensitive = models.BooleanField(default=False)
    override = models.CharField(max_length=12, choices=Override.choices, default=Override.ALLOWED)
    restricted_values = models.JSONField(
        "Restricted values",
        default=list,
        blank=True,
        help_text="The values end users may choose from when override is Restricted.",
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @classmethod
    def setting_constraints(cls) -> list[models.BaseConstraint]:
        return [
            models.CheckConstraint(
                condition=Q(sensitive=False) | Q(value=""),
                name="%(app_label)s_%(class)s_no_plain_secret",
                violation_error_message="A sensitive value may not be stored in clear.",
            ),
            models.CheckConstraint(
                condition=Q(override__in=Override.values),
                name="%(app_label)s_%(class)s_override_valid",
                violation_error_message="Override must be allowed, notallowed or restricted.",
            ),
        ]

    @property
    def effective_value(self) -> str:
        return self.secret if self.sensitive else self.value

    @property
    def has_value(self) -> bool:
        return self.effective_value != ""

    def set_value(self, value: str) -> None:
        """Store ``value`` in the column its sensitivity calls for."""
        if self.sensitive:
            self.value, self.secret = "", value
        else:
            self.value, self.secret = value, ""


# Environment templates ---------------------------------------------------------------------------


class EnvironmentTemplateQuerySet(ShareableQuerySet):
    def named_for(self, project: Project, name: str) -> "EnvironmentTemplate | None":
        """The template ``name`` as ``project`` sees it: its own first, then the system's."""
        return self.available_to(project).filter(name=name).first_as_seen_by(project)


class EnvironmentTemplate(Shareable):
    """The code that deploys the software behind a service profile, in numbered versions."""

    name = models.CharField("Unique Name", max_length=63, validators=[validate_resource_name])
    display_name = models.CharField("Display Name", max_length=DISPLAY_NAME_MAX_LENGTH)
    description = models.TextField(
        blank=True, max_length=DESCRIPTION_MAX_LENGTH, validators=[_description_length]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    objects = EnvironmentTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["name", "project__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                name="%(app_label)s_%(class)s_unique_name_per_project",
                violation_error_message="This project already has a template with this name.",
            ),
            *_name_constraints(),
        ]

    def __str__(self) -> str:
        return f"{self.project.name}/{self.name}"

    def clean(self) -> None:
        rules.raise_problems(
            rules.sharing_problems(owner=self.project_or_none, sharing=self.sharing)
        )

    @property
    def project_or_none(self) -> Project | None:
        return self.project if self.project_id else None


class TemplateVersion(models.Model):
    """One version of a template: its variables, outputs and where its code lives."""

    State = VersionState

    template = models.ForeignKey(
        EnvironmentTemplate, on_delete=models.CASCADE, related_name="versions"
    )
    name = models.CharField(
        "Version", max_length=8, help_text="v1, v2, …", validators=[validate_version_name]
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    code_repository = models.CharField(
        "Repository URL",
        max_length=REPOSITORY_URL_MAX_LENGTH,
        blank=True,
        validators=[validate_repository_url],
        help_text="The git repository the code lives in: an https://, ssh://, git:// or file:// "
        "URL.",
    )
    code_path = models.CharField(
        "Path",
        max_length=500,
        blank=True,
        help_text="The folder in the repository holding paas.sh (empty: the repository's root).",
    )
    code_revision = models.CharField(
        "Revision",
        max_length=200,
        blank=True,
        help_text="A branch, a tag or a commit id; pinned to its commit when the version is "
        "activated.",
    )
    code_inline = models.TextField("Inline code", blank=True)
    code_commit = models.CharField(
        "Commit",
        max_length=64,
        blank=True,
        editable=False,
        help_text="The commit code_revision named when the version was activated.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "name"],
                name="%(app_label)s_%(class)s_unique_per_template",
                violation_error_message="This template already has a version with this name.",
            ),
            models.CheckConstraint(
                condition=Q(name__regex=VERSION_NAME_PATTERN),
                name="%(app_label)s_%(class)s_name_format",
                violation_error_message="A version is named v1, v2, v3, …",
            ),
            models.CheckConstraint(
                condition=Q(state__in=VersionState.values),
                name="%(app_label)s_%(class)s_state_valid",
                violation_error_message="The state must be draft, active or disabled.",
            ),
            models.CheckConstraint(
                condition=(Q(code_repository="") & ~Q(code_inline=""))
                | (~Q(code_repository="") & Q(code_inline="")),
                name="%(app_label)s_%(class)s_one_code_reference",
                violation_error_message=(
                    "Give either a repository URL (with path and revision) or inline code, "
                    "not both."
                ),
            ),
        ]
        indexes = [
            # Version pickers list a template's active versions.
            models.Index(fields=["template", "state"], name="profiles_version_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.template} {self.name}"

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE

    #: What, changed on an active version, pins its code again.
    CODE_FIELDS = ("code_repository", "code_path", "code_revision")

    def names_same_code(self, other: "TemplateVersion") -> bool:
        """Whether ``other`` names the same code as this version (so this one's commit holds)."""
        return all(getattr(self, f) == getattr(other, f) for f in self.CODE_FIELDS)

    def pin_code(self, saved: "TemplateVersion | None") -> None:
        """Pin ``code_commit`` to the commit ``code_revision`` names, as this version is saved.

        ``self`` holds the values about to be saved, ``saved`` the version as stored (None for a
        new one). A version with repository code that becomes active, or whose code fields change
        while active, has its revision resolved with git (see
        :func:`profiles.repositories.resolve_commit`, which also checks that ``code_path`` is a
        folder holding ``paas.sh`` at that commit); an active version whose code stays as it was
        keeps its commit without asking the repository, and a draft or disabled one keeps
        whatever it had. Inline code has no commit. Raises
        :class:`~profiles.repositories.RepositoryProblem` naming the field at fault.
        """
        if not self.code_repository:
            self.code_commit = ""
            return
        if saved is not None:
            self.code_commit = saved.code_commit
        if not self.is_active:
            return
        if saved is not None and saved.is_active and saved.names_same_code(self):
            return
        self.code_commit = repositories.resolve_commit(
            self.code_repository, self.code_revision, self.code_path
        )

    def problems_in(self, project: Project) -> rules.Problems:
        """Why a profile of ``project`` may not be built on this version (empty if it may)."""
        available = self.template.is_available_to(project)
        if available and self.is_active:
            return {}
        return rules.version_problems(
            project=project, template_name=self.template.name, version=self, available=available
        )


class TemplateVariable(SettingRules):
    """An input a template version declares."""

    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="variables")
    name = models.CharField(max_length=100, validators=[validate_variable_name])
    value_type = models.CharField(
        "Value type", max_length=10, choices=ValueType.choices, default=ValueType.TEXT
    )
    description = models.TextField(
        blank=True, max_length=DESCRIPTION_MAX_LENGTH, validators=[_description_length]
    )

    class Meta:
        ordering = ["version", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "name"],
                name="%(app_label)s_%(class)s_unique_per_version",
                violation_error_message="This version already declares a variable with this name.",
            ),
            models.CheckConstraint(
                condition=Q(value_type__in=ValueType.values),
                name="%(app_label)s_%(class)s_value_type_valid",
                violation_error_message="The value type must be text, number, boolean or json.",
            ),
            *SettingRules.setting_constraints(),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        rules.raise_problems(rules.setting_problems(self.value_type, self))


class TemplateOutput(models.Model):
    """An output a template version declares (what exists after a launch)."""

    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="outputs")
    name = models.CharField(max_length=100, validators=[validate_variable_name])
    description = models.TextField(
        blank=True, max_length=DESCRIPTION_MAX_LENGTH, validators=[_description_length]
    )
    sensitive = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["version", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "name"],
                name="%(app_label)s_%(class)s_unique_per_version",
                violation_error_message="This version already declares an output with this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# Service profiles ----------------------------------------------------------------------------


class ServiceProfileQuerySet(ShareableQuerySet):
    def visible_to(self, project: Project) -> "ServiceProfileQuerySet":
        """Everything ``project`` may look at: all of its own profiles, and the ready ones of
        other projects that are available to it (shared, or in the system catalog)."""
        return self.filter(pk__in=Visibility.objects.seen_by(project).values("profile"))

    def in_catalog_of(self, project: Project) -> "ServiceProfileQuerySet":
        """What end users of ``project`` may find and launch: visible and ready."""
        return self.filter(pk__in=Visibility.objects.seen_by(project, ready=True).values("profile"))

    def system(self) -> "ServiceProfileQuerySet":
        """The system profiles: ready profiles of the system catalog, there for every project."""
        return self.filter(project__name=SYSTEM_CATALOG, status=Status.READY)

    def editable_in(self, project: Project) -> "ServiceProfileQuerySet":
        """What the admins of ``project`` may change; the system catalog is superusers' own."""
        if project.is_system_catalog:
            return self.none()
        return self.filter(project=project)


class ServiceProfile(Shareable):
    """A reusable, versioned app configuration built on an environment template version."""

    ServiceType = ServiceType
    Status = Status
    Step = Step

    name = models.CharField(
        "Unique Name",
        max_length=63,
        validators=[validate_listed_name],
        help_text="Cannot be changed once the profile is created.",
    )
    display_name = models.CharField(
        "Display Name", max_length=DISPLAY_NAME_MAX_LENGTH, help_text="What end users see."
    )
    description = models.TextField(
        blank=True, max_length=DESCRIPTION_MAX_LENGTH, validators=[_description_length]
    )
    template_version = models.ForeignKey(
        TemplateVersion,
        verbose_name="Environment Template Version",
        on_delete=models.PROTECT,
        related_name="profiles",
    )
    service_type = models.CharField(
        "Service Type", max_length=10, choices=ServiceType.choices, default=ServiceType.NOTEBOOK
    )
    icon_url = models.CharField(
        "Icon URL", max_length=ICON_URL_MAX_LENGTH, blank=True, validators=[validate_icon_url]
    )
    readme = models.TextField("Readme", blank=True, validators=[validate_readme])
    readme_html = models.TextField(
        blank=True, editable=False, help_text="The readme rendered at the latest revision."
    )
    labels = models.JSONField("Labels", default=dict, blank=True, validators=[validate_labels])
    annotations = models.JSONField(
        "Annotations", default=dict, blank=True, validators=[validate_annotations]
    )
    extra_config = models.JSONField(
        "Extra Configuration", default=dict, blank=True, validators=[validate_extra_config]
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    wizard_step = models.CharField(
        max_length=10,
        choices=Step.choices,
        default=Step.GENERAL,
        editable=False,
        help_text="Where the wizard resumes for a draft: the first step not yet saved.",
    )
    revision = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    modified_at = models.DateTimeField(auto_now=True)
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    objects = ServiceProfileQuerySet.as_manager()

    # The General section of the wizard, in the order pages show it.
    GENERAL_FIELDS = (
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
    )

    class Meta:
        ordering = ["name", "project__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                name="%(app_label)s_%(class)s_unique_name_per_project",
                violation_error_message=(
                    "This project already has a service profile with this name."
                ),
            ),
            *_name_constraints(),
            models.CheckConstraint(
                condition=Q(service_type__in=ServiceType.values),
                name="%(app_label)s_%(class)s_service_type_valid",
                violation_error_message="Unknown service type.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values),
                name="%(app_label)s_%(class)s_status_valid",
                violation_error_message="The status must be draft or ready.",
            ),
            models.CheckConstraint(
                condition=Q(revision__gte=1),
                name="%(app_label)s_%(class)s_revision_positive",
                violation_error_message="Revisions count from 1.",
            ),
        ]
        indexes = [
            # The catalog filters visible profiles by status and service type.
            models.Index(fields=["status", "service_type"], name="profiles_status_type_idx"),
            # Shared-with-all profiles are looked up in every project's list.
            models.Index(fields=["sharing"], name="profiles_profile_sharing_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.project.name}/{self.name}"

    def clean(self) -> None:
        problems = rules.sharing_problems(owner=self.project_or_none, sharing=self.sharing)
        if self.project_id and self.template_version_id:
            problems |= self.template_version.problems_in(self.project)
        rules.raise_problems(problems)

    @property
    def project_or_none(self) -> Project | None:
        return self.project if self.project_id else None

    @property
    def environment_template(self) -> EnvironmentTemplate:
        return self.template_version.template

    @property
    def is_system(self) -> bool:
        return self.project.is_system_catalog


class VisibilityQuerySet(models.QuerySet):
    def seen_by(self, project: Project, *, ready: bool | None = None) -> "VisibilityQuerySet":
        """The rows of the profiles ``project`` may look at: its own, and those of every project.

        Two ranges of one index each, so the cost follows what the project sees.
        ``ready=True`` keeps the catalog's rows only.
        """
        rows = self.filter(Q(project=project) | Q(everyone=True))
        return rows if ready is None else rows.filter(ready=ready)


class Visibility(models.Model):
    """Which project may look at which profile, kept beside the profiles for lists to use.

    It says what :meth:`ServiceProfileQuerySet.visible_to` means (SPEC §2) as rows an index
    can answer: a ready profile of the system catalog or shared with all projects has one row
    for every project (``everyone``); any other profile one row for its owner, drafts included,
    and, when ready and shared with selected projects, one for each of them. No profile is
    seen twice by one project. The copied columns are what lists sort and count by, so a page
    of a list is read from this table alone. :mod:`profiles.visibility` rewrites a profile's
    rows whenever it, its sharing or its owner's name changes, in the same transaction.
    """

    profile = models.ForeignKey(ServiceProfile, on_delete=models.CASCADE, related_name="seen_as")
    # Indexed first in the indexes below, which serve its lookups and cascades.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    everyone = models.BooleanField(default=False)
    ready = models.BooleanField()
    name = models.CharField(max_length=63)
    display_name = models.CharField(max_length=DISPLAY_NAME_MAX_LENGTH)
    owner_name = models.CharField(max_length=63)
    service_type = models.CharField(max_length=10, choices=ServiceType.choices)
    created_at = models.DateTimeField()

    objects = VisibilityQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(everyone=True, project__isnull=True)
                | Q(everyone=False, project__isnull=False),
                name="%(app_label)s_%(class)s_one_audience",
                violation_error_message="A row is for one project or for every project.",
            ),
            models.UniqueConstraint(
                fields=["profile", "project"], name="%(app_label)s_%(class)s_unique_project"
            ),
            models.UniqueConstraint(
                fields=["profile"],
                condition=Q(everyone=True),
                name="%(app_label)s_%(class)s_unique_everyone",
            ),
        ]
        indexes = [
            # A project's rows and every project's rows, each in catalog and in list order.
            models.Index(
                fields=["project", "ready", "display_name", "name", "owner_name"],
                name="profiles_seen_catalog_idx",
            ),
            models.Index(
                fields=["everyone", "ready", "display_name", "name", "owner_name"],
                condition=Q(everyone=True),
                name="profiles_seen_all_catalog_idx",
            ),
            models.Index(fields=["project", "name", "owner_name"], name="profiles_seen_list_idx"),
            models.Index(
                fields=["everyone", "name", "owner_name"],
                condition=Q(everyone=True),
                name="profiles_seen_all_list_idx",
            ),
        ]

    def __str__(self) -> str:
        audience = "every project" if self.everyone else f"project {self.project_id}"
        return f"{self.owner_name}/{self.name} seen by {audience}"


class InputSetting(SettingRules):
    """How a profile presents one variable of its template version to end users."""

    profile = models.ForeignKey(ServiceProfile, on_delete=models.CASCADE, related_name="inputs")
    name = models.CharField(
        "Variable", max_length=100, validators=[validate_variable_name], editable=True
    )
    display_name = models.CharField("Display Name", max_length=DISPLAY_NAME_MAX_LENGTH, blank=True)
    description = models.TextField(
        "Help text",
        blank=True,
        max_length=DESCRIPTION_MAX_LENGTH,
        validators=[_description_length],
        help_text="Shown to end users.",
    )

    class Meta:
        ordering = ["profile", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "name"],
                name="%(app_label)s_%(class)s_unique_per_profile",
                violation_error_message="This profile already has settings for this variable.",
            ),
            *SettingRules.setting_constraints(),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.profile_id and self.profile.template_version_id:
            self.check_against(self.profile.template_version)

    def check_against(self, version: TemplateVersion) -> None:
        """Raise ValidationError unless this row fits the variable ``version`` declares.

        Reads ``version.variables.all()``, so a prefetched version asks nothing.
        """
        variable = next((v for v in version.variables.all() if v.name == self.name), None)
        if variable is None:
            raise ValidationError({"name": f"“{self.name}” is not a variable of {version}."})
        problems = rules.setting_problems(variable.value_type, self)
        problems |= rules.tightening_problems(variable, self)
        rules.raise_problems(problems)


class OutputSetting(models.Model):
    """A declared output of the template version that end users see after a launch."""

    profile = models.ForeignKey(ServiceProfile, on_delete=models.CASCADE, related_name="outputs")
    name = models.CharField("Output", max_length=100, validators=[validate_variable_name])
    display_name = models.CharField("Display Name", max_length=DISPLAY_NAME_MAX_LENGTH, blank=True)
    description = models.TextField(
        blank=True, max_length=DESCRIPTION_MAX_LENGTH, validators=[_description_length]
    )
    sensitive = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["profile", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "name"],
                name="%(app_label)s_%(class)s_unique_per_profile",
                violation_error_message="This output is already shown.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.profile_id and self.profile.template_version_id:
            self.check_against(self.profile.template_version)

    def check_against(self, version: TemplateVersion) -> None:
        """Raise ValidationError unless ``version`` declares this output and it is at least as
        sensitive as declared. Reads ``version.outputs.all()``, so prefetching serves it."""
        declared = next((o for o in version.outputs.all() if o.name == self.name), None)
        if declared is None:
            raise ValidationError({"name": f"“{self.name}” is not an output of {version}."})
        if declared.sensitive and not self.sensitive:
            raise ValidationError(
                {"sensitive": "The template marks this output sensitive; it stays sensitive."}
            )


class ProfileRevision(models.Model):
    """An immutable snapshot of a profile's whole document, taken at every saved change.

    ``document`` never holds sensitive values; those are kept beside it in ``secrets``,
    encrypted, so that what launches later can pin a revision with everything it needs.
    """

    profile = models.ForeignKey(ServiceProfile, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    secrets = EncryptedTextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["profile", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "number"],
                name="%(app_label)s_%(class)s_one_per_number",
                violation_error_message="This revision already exists.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.profile} revision {self.number}"


class ProfileEvent(models.Model):
    """What happened to a profile: kept after the profile is deleted, with its final document."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        SHARING_CHANGED = "sharing_changed", "Sharing changed"
        CLONED = "cloned", "Cloned"
        DELETED = "deleted", "Deleted"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="profile_events")
    profile = models.ForeignKey(
        ServiceProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    profile_name = models.CharField(max_length=63)
    action = models.CharField(max_length=20, choices=Action.choices)
    revision = models.PositiveIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # A profile's event log, newest first, also after the profile is gone.
            models.Index(
                fields=["project", "profile_name", "-created_at"], name="profiles_event_log_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.profile_name}: {self.get_action_display()} by {self.actor_name or '—'}"
