"""The fixed vocabularies of templates and profiles (SPEC §3), apart from the models, so that the
rules, the documents and the forms compare against them without importing any model."""

from django.db import models


class Sharing(models.TextChoices):
    NONE = "none", "None"
    ALL = "all", "All Projects"
    SELECTED = "selected", "Selected Projects"


class ValueType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    JSON = "json", "JSON"


class Override(models.TextChoices):
    ALLOWED = "allowed", "Allowed"
    NOT_ALLOWED = "notallowed", "Not allowed"
    RESTRICTED = "restricted", "Restricted"


class VersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"


class ServiceType(models.TextChoices):
    NOTEBOOK = "notebook", "Notebook"
    INFERENCE = "inference", "Inference"
    JOBS = "jobs", "Jobs"
    CUSTOM = "custom", "Custom Service"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    READY = "ready", "Ready"


class Step(models.TextChoices):
    """The wizard's sections, in order; a draft resumes at the first one not yet saved."""

    GENERAL = "general", "General"
    INPUTS = "inputs", "Input Settings"
    OUTPUTS = "outputs", "Output Settings"
    SHARING = "sharing", "Sharing"

    @classmethod
    def order_of(cls, step: str) -> int:
        """Where ``step`` comes in the wizard, from 0."""
        return cls.values.index(step)

    @classmethod
    def after(cls, step: str) -> "Step | None":
        """The step that follows ``step``; None after the last."""
        following = cls.order_of(step) + 1
        return cls(cls.values[following]) if following < len(cls.values) else None
