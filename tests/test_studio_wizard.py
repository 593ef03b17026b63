"""The PaaS Studio wizard and edit sections through the test client (SPEC §3, §5).

General → Input Settings → Output Settings → Sharing; each step saves before moving on, the
last one makes the draft ready, and a ready profile's sections save changes under the
stale-edit check. Bodies are built from the forms the page rendered, as a browser would post
them, so that a test changes only what it is about.
"""

import re

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from profiles import services
from profiles.models import InputSetting, ProfileEvent, ServiceProfile
from profiles.studio_forms import KeyValueField
from tests.factories import make_profile, make_template, make_user, make_variable

SECRET = "hf_template_secret"  # the default of notebook_version's sensitive ``hf_token``

# Every test that gets as far as saving a section (services.save_*) carries this mark.

# Building what a browser posts ------------------------------------------------------------


def form_fields(form) -> dict:
    """What a browser posts for ``form`` as the page rendered it."""
    body: dict = {}
    for bound in form:
        name, value = bound.html_name, bound.value()
        if bound.field.disabled:
            continue  # a browser does not send a disabled control
        if isinstance(bound.field, KeyValueField):
            rows = list(value.items()) if isinstance(value, dict) else list(value or [])
            rows = rows or [("", "")]
            body[f"{name}-key"] = [key for key, _ in rows]
            body[f"{name}-value"] = [item for _, item in rows]
        elif isinstance(bound.field, forms.BooleanField):
            if value:
                body[name] = "on"
        elif isinstance(value, list | tuple):
            body[name] = [str(item) for item in value]
        else:
            body[name] = "" if value is None else str(value)
    return body


def page_body(response) -> dict:
    """The body of the page's form as rendered: form, formset and the revision it was at."""
    body: dict = {}
    for key in ["form", "revision_form"]:
        if key in response.context and response.context[key] is not None:
            body |= form_fields(response.context[key])
    if "formset" in response.context:
        formset = response.context["formset"]
        body |= form_fields(formset.management_form)
        for form in formset.forms:
            body |= form_fields(form)
    return body


def new_profile_body(version, **changes) -> dict:
    """A valid General step for a new profile on ``version``; ``changes`` replace fields."""
    body = {
        "name": "team-notebook",
        "display_name": "Team Notebook",
        "description": "A GPU notebook with the team's libraries.",
        "environment_template": str(version.template_id),
        "template_version": str(version.pk),
        "service_type": "notebook",
        "icon_url": "https://example.com/jupyter.svg",
        "readme": "# Team Notebook",
        "labels-key": [""],
        "labels-value": [""],
        "annotations-key": [""],
        "annotations-value": [""],
        "extra_config-key": [""],
        "extra_config-value": [""],
    }
    return body | changes


def row(response, name: str) -> str:
    """The form prefix of the input or output row for variable or output ``name``."""
    for form in response.context["formset"].forms:
        instance = getattr(form, "instance", None)
        if (instance.name if instance is not None else form.initial.get("name")) == name:
            return form.prefix
    raise LookupError(name)


def row_errors(response, name: str) -> dict:
    prefix = row(response, name)
    return next(f.errors for f in response.context["formset"].forms if f.prefix == prefix)


def step_url(profile: ServiceProfile, step: str) -> str:
    return reverse("profiles:step", args=[profile.project.name, profile.name, step])


def view_url(profile: ServiceProfile) -> str:
    return reverse("profiles:view", args=[profile.project.name, profile.name])


def open_step(client, profile: ServiceProfile, step: str):
    response = client.get(step_url(profile, step))
    assert response.status_code == 200
    return response


def post_step(client, profile: ServiceProfile, step: str, **changes):
    """Open a step, change what ``changes`` names (field names or ``row:field``), post it."""
    page = open_step(client, profile, step)
    body = page_body(page)
    for key, value in changes.items():
        if ":" in key:
            name, field = key.split(":")
            key = f"{row(page, name)}-{field}"
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return client.post(step_url(profile, step), body)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def reload(profile: ServiceProfile) -> ServiceProfile:
    return ServiceProfile.objects.get(pk=profile.pk)


# Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def ready(platform, notebook_version, alice):
    """alice's ready ``team-notebook`` in platform, at revision 1."""
    return make_profile(
        platform,
        "team-notebook",
        display_name="Team Notebook",
        version=notebook_version,
        status="ready",
        wizard_step="sharing",
        actor=alice,
    )


@pytest.fixture
def draft(platform, notebook_version, alice):
    """alice's draft ``draft-notebook``, saved up to General (the wizard resumes at inputs)."""
    return make_profile(
        platform, "draft-notebook", version=notebook_version, wizard_step="inputs", actor=alice
    )


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


# Creating: wizard step 1 ----------------------------------------------------------------------


def test_new_profile_page_is_step_one_of_four_with_save_and_continue(logged_in):
    response = logged_in.get(reverse("profiles:new", args=["platform"]))
    html = response.content.decode()
    assert response.status_code == 200
    assert [s["label"] for s in response.context["steps"]] == [
        "General",
        "Input Settings",
        "Output Settings",
        "Sharing",
    ]
    assert "Save &amp; Continue" in html
    assert "Save &amp; Finish" not in html


def test_general_fields_carry_the_spec_words_as_real_labels(logged_in):
    html = logged_in.get(reverse("profiles:new", args=["platform"])).content.decode()
    labels = {
        field: " ".join(text.split())
        for field, text in re.findall(r'<label[^>]*\bfor="id_([\w-]+)"[^>]*>([^<]*)', html)
    }
    assert {field: labels[field] for field in GENERAL_LABELS} == GENERAL_LABELS
    for noun in ["Labels", "Annotations", "Extra Configuration"]:
        assert f'<legend class="form-label fs-6 fw-semibold mb-1">{noun}</legend>' in html
    for service_type in ["Notebook", "Inference", "Jobs", "Custom Service"]:
        assert f">{service_type}</option>" in html


GENERAL_LABELS = {
    "name": "Unique Name",
    "display_name": "Display Name",
    "description": "Description",
    "environment_template": "Environment Template",
    "template_version": "Environment Template Version",
    "service_type": "Service Type",
    "icon_url": "Icon URL",
    "readme": "Readme",
    "labels-key-1": "Label 1 key",
}


def test_creating_saves_a_draft_at_revision_one_and_opens_input_settings(
    logged_in, alice, notebook_version
):
    response = logged_in.post(
        reverse("profiles:new", args=["platform"]), new_profile_body(notebook_version)
    )
    profile = ServiceProfile.objects.get(project__name="platform", name="team-notebook")
    assert response.status_code == 302
    assert response["Location"] == step_url(profile, "inputs")
    assert (profile.status, profile.revision, profile.wizard_step) == ("draft", 1, "inputs")
    assert (profile.display_name, profile.created_by) == ("Team Notebook", alice)
    assert profile.template_version == notebook_version
    assert list(profile.inputs.values_list("name", flat=True)) == [
        "notebook_profile",
        "image",
        "gpu_count",
        "enable_ssh",
        "region",
        "hf_token",
    ]
    assert profile.events.get().action == ProfileEvent.Action.CREATED


def test_htmx_create_answers_with_hx_redirect(logged_in, notebook_version):
    response = logged_in.post(
        reverse("profiles:new", args=["platform"]),
        new_profile_body(notebook_version),
        headers={"HX-Request": "true"},
    )
    profile = ServiceProfile.objects.get(name="team-notebook")
    assert response.status_code == 200
    assert response["HX-Redirect"] == step_url(profile, "inputs")


def test_labels_annotations_and_extra_config_are_saved_as_dicts_without_empty_rows(
    logged_in, notebook_version
):
    body = new_profile_body(
        notebook_version,
        **{
            "labels-key": ["team", "", "example.com/tier"],
            "labels-value": ["ml", "", "gold"],
            "annotations-key": ["owner", ""],
            "annotations-value": ["ml-platform@example.com", ""],
            "extra_config-key": ["", "PIP_INDEX_URL"],
            "extra_config-value": ["", "https://pypi.example.com/simple"],
        },
    )
    logged_in.post(reverse("profiles:new", args=["platform"]), body)
    profile = ServiceProfile.objects.get(name="team-notebook")
    assert profile.labels == {"team": "ml", "example.com/tier": "gold"}
    assert profile.annotations == {"owner": "ml-platform@example.com"}
    assert profile.extra_config == {"PIP_INDEX_URL": "https://pypi.example.com/simple"}


def test_a_label_with_an_empty_value_is_kept(logged_in, notebook_version):
    body = new_profile_body(notebook_version, **{"labels-key": ["gpu"], "labels-value": [""]})
    logged_in.post(reverse("profiles:new", args=["platform"]), body)
    assert ServiceProfile.objects.get(name="team-notebook").labels == {"gpu": ""}


def test_the_same_name_may_be_used_in_another_project(logged_in, research, notebook_version, dave):
    make_profile(research, "team-notebook", version=notebook_version)
    response = logged_in.post(
        reverse("profiles:new", args=["platform"]), new_profile_body(notebook_version)
    )
    assert response.status_code == 302
    assert ServiceProfile.objects.filter(name="team-notebook").count() == 2


# The template → version refresh (htmx) ------------------------------------------------------


@pytest.fixture
def versions(system, notebook_version):
    """notebook_version is v1 (active); v2 draft, v3 disabled, v4 active."""
    template = notebook_version.template
    for name, state in [("v2", "draft"), ("v3", "disabled"), ("v4", "active")]:
        make_template(system, template.name, version=name, state=state)
    return template


HTMX_REFRESH = {"HX-Request": "true", "HX-Trigger-Name": "environment_template"}


def test_choosing_a_template_returns_only_the_version_field_with_active_versions(
    logged_in, versions
):
    response = logged_in.get(
        reverse("profiles:new", args=["platform"]),
        {"environment_template": versions.pk},
        headers=HTMX_REFRESH,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.strip().startswith('<div id="version-field">')
    assert 'name="template_version"' in html
    assert 'name="display_name"' not in html
    offered = response.context["form"].fields["template_version"].queryset
    assert sorted(offered.values_list("name", flat=True)) == ["v1", "v4"]
    assert ">v1<" in html and ">v4<" in html
    assert ">v2<" not in html and ">v3<" not in html


def test_the_version_refresh_also_works_on_a_ready_profiles_general_section(
    logged_in, ready, versions
):
    response = logged_in.get(
        step_url(ready, "general"), {"environment_template": versions.pk}, headers=HTMX_REFRESH
    )
    assert "<html" not in response.content.decode()
    offered = response.context["form"].fields["template_version"].queryset
    assert sorted(offered.values_list("name", flat=True)) == ["v1", "v4"]


def test_the_version_refresh_offers_nothing_for_a_template_not_available(
    logged_in, research, notebook_version
):
    elsewhere = make_template(research, "research-only")
    response = logged_in.get(
        reverse("profiles:new", args=["platform"]),
        {"environment_template": elsewhere.template_id},
        headers=HTMX_REFRESH,
    )
    assert response.status_code == 200
    assert not response.context["form"].fields["template_version"].queryset.exists()


@pytest.mark.parametrize("value", ["abc", "", "999999", "1.5"])
def test_the_version_refresh_with_a_bad_template_id_offers_nothing(logged_in, db, value):
    response = logged_in.get(
        reverse("profiles:new", args=["platform"]),
        {"environment_template": value},
        headers=HTMX_REFRESH,
    )
    assert response.status_code == 200
    assert not response.context["form"].fields["template_version"].queryset.exists()


def test_a_version_refresh_post_saves_nothing(logged_in, notebook_version):
    response = logged_in.post(
        reverse("profiles:new", args=["platform"]),
        new_profile_body(notebook_version),
        headers=HTMX_REFRESH,
    )
    assert response.status_code == 200
    assert not ServiceProfile.objects.exists()


# Walking the wizard -----------------------------------------------------------------------------


def test_input_settings_step_saves_and_continues_to_output_settings(logged_in, draft):
    response = post_step(logged_in, draft, "inputs", **{"gpu_count:display_name": "GPUs"})
    assert response.status_code == 302
    assert response["Location"] == step_url(draft, "outputs")
    draft = reload(draft)
    assert (draft.status, draft.wizard_step, draft.revision) == ("draft", "outputs", 2)
    assert draft.inputs.get(name="gpu_count").display_name == "GPUs"


def test_output_settings_step_saves_and_continues_to_sharing(logged_in, draft):
    post_step(logged_in, draft, "inputs")
    response = post_step(logged_in, draft, "outputs", **{"url:display_name": "Notebook URL"})
    assert response["Location"] == step_url(draft, "sharing")
    draft = reload(draft)
    assert (draft.status, draft.wizard_step) == ("draft", "sharing")
    assert draft.outputs.get(name="url").display_name == "Notebook URL"


def test_sharing_step_saves_and_finishes_the_wizard(logged_in, draft, research):
    post_step(logged_in, draft, "inputs")
    post_step(logged_in, draft, "outputs")
    response = post_step(logged_in, draft, "sharing", sharing="selected", shared_with=research.pk)
    assert response.status_code == 302
    assert response["Location"] == view_url(draft)
    draft = reload(draft)
    assert draft.status == "ready"
    assert (draft.sharing, list(draft.shared_with.all())) == ("selected", [research])
    assert "draft-notebook is ready" in messages_of(response)[0]


def test_the_whole_wizard_through_the_pages(logged_in, notebook_version):
    response = logged_in.post(
        reverse("profiles:new", args=["platform"]), new_profile_body(notebook_version)
    )
    for expected_next in ["outputs", "sharing"]:
        page = logged_in.get(response["Location"])
        response = logged_in.post(response["Location"], page_body(page))
        assert response["Location"].endswith(f"/{expected_next}/")
    page = logged_in.get(response["Location"])
    response = logged_in.post(response["Location"], page_body(page) | {"sharing": "none"})
    profile = ServiceProfile.objects.get(name="team-notebook")
    assert response["Location"] == view_url(profile)
    assert (profile.status, profile.revision) == ("ready", 2)  # steps saved unchanged: no bump
    assert profile.outputs.count() == 2


@pytest.mark.parametrize(
    ("step", "button"),
    [
        ("general", "Save &amp; Continue"),
        ("inputs", "Save &amp; Continue"),
        ("outputs", "Save &amp; Continue"),
        ("sharing", "Save &amp; Finish"),
    ],
)
def test_draft_step_button_labels(logged_in, draft, step, button):
    draft.wizard_step = "sharing"
    draft.save()
    html = open_step(logged_in, draft, step).content.decode()
    assert button in html
    assert "Save Changes" not in html


@pytest.mark.parametrize("step", ServiceProfile.Step.values)
def test_ready_profile_sections_save_changes(logged_in, ready, step):
    html = open_step(logged_in, ready, step).content.decode()
    assert "Save Changes" in html
    assert "Save &amp; Continue" not in html
    assert "Save &amp; Finish" not in html


def test_sharing_offers_none_all_or_other_projects(logged_in, ready, system):
    response = open_step(logged_in, ready, "sharing")
    html = response.content.decode()
    for choice in ["None", "All Projects", "Selected Projects"]:
        assert re.search(rf"<label[^>]*>\s*{choice}\s*</label>", html), choice
    picker = response.context["form"].fields["shared_with"].queryset
    assert sorted(picker.values_list("name", flat=True)) == ["finance", "research"]
    assert "Manage Sharing" in html


def test_unique_name_is_shown_read_only_after_creation(logged_in, ready):
    response = open_step(logged_in, ready, "general")
    html = response.content.decode()
    assert "name" not in response.context["form"].fields
    assert 'value="team-notebook" readonly' in html


# Resuming a draft ---------------------------------------------------------------------------


def test_a_drafts_view_page_continues_at_the_step_it_stopped(logged_in, draft):
    draft.wizard_step = "outputs"
    draft.save()
    html = logged_in.get(view_url(draft)).content.decode()
    assert f'href="{step_url(draft, "outputs")}"' in html
    assert "Continue the wizard" in html
    assert "next: Output Settings" in html


def test_the_lists_continue_link_goes_to_the_step_a_draft_stopped(logged_in, draft):
    draft.wizard_step = "outputs"
    draft.save()
    html = logged_in.get(reverse("profiles:list", args=["platform"])).content.decode()
    assert f'href="{step_url(draft, "outputs")}"' in html
    assert "Continue" in html


def test_the_lists_edit_link_of_a_ready_profile_opens_general(logged_in, ready):
    html = logged_in.get(reverse("profiles:list", args=["platform"])).content.decode()
    assert f'href="{step_url(ready, "general")}"' in html


@pytest.mark.parametrize("step", ["outputs", "sharing"])
def test_jumping_ahead_of_a_draft_redirects_to_where_it_stopped(logged_in, draft, step):
    response = logged_in.get(step_url(draft, step))
    assert response.status_code == 302
    assert response["Location"] == step_url(draft, "inputs")


def test_posting_ahead_of_a_draft_saves_nothing(logged_in, draft):
    response = logged_in.post(step_url(draft, "sharing"), {"sharing": "all", "revision": 1})
    assert response["Location"] == step_url(draft, "inputs")
    draft = reload(draft)
    assert (draft.status, draft.sharing, draft.revision) == ("draft", "none", 1)


def test_a_draft_may_go_back_to_an_earlier_step(logged_in, draft):
    draft.wizard_step = "sharing"
    draft.save()
    assert logged_in.get(step_url(draft, "general")).status_code == 200
    response = post_step(logged_in, draft, "general", display_name="Renamed")
    assert response["Location"] == step_url(draft, "inputs")
    assert reload(draft).wizard_step == "sharing"  # going back does not lose progress


# Changing the template version ------------------------------------------------------------------


@pytest.fixture
def version_two(system, notebook_version):
    """jupyter-notebook v2: adds idle_timeout_minutes, drops enable_ssh, region, hf_token, token."""
    v2 = make_template(system, "jupyter-notebook", version="v2", outputs=[{"name": "url"}])
    for variable in notebook_version.variables.filter(
        name__in=["notebook_profile", "image", "gpu_count"]
    ):
        make_variable(
            v2,
            variable.name,
            variable.value,
            value_type=variable.value_type,
            required=variable.required,
            override=variable.override,
            restricted_values=variable.restricted_values,
            position=variable.position,
        )
    make_variable(v2, "idle_timeout_minutes", "120", value_type="number", position=9)
    return v2


def test_changing_the_version_reconciles_inputs_and_says_what_came_and_went(
    logged_in, ready, version_two
):
    response = post_step(logged_in, ready, "general", template_version=str(version_two.pk))
    # Saved: Input Settings open next, to review what the new version brought.
    assert response["Location"] == step_url(ready, "inputs")
    ready = reload(ready)
    assert ready.template_version == version_two
    assert sorted(ready.inputs.values_list("name", flat=True)) == [
        "gpu_count",
        "idle_timeout_minutes",
        "image",
        "notebook_profile",
    ]
    assert list(ready.outputs.values_list("name", flat=True)) == ["url"]
    assert (
        "Input Settings now follow v2: added idle_timeout_minutes; "
        "removed enable_ssh, hf_token, region; outputs no longer declared: token."
    ) in messages_of(response)
    assert ready.revision == 2


def preview(client, profile, version) -> str:
    """The General section's preview of saving ``profile`` on ``version`` (as htmx asks)."""
    response = client.get(
        step_url(profile, "general"),
        {"template_version": str(version.pk)},
        headers={"HX-Request": "true", "HX-Trigger-Name": "template_version"},
    )
    assert response.status_code == 200
    return response.content.decode()


def test_picking_another_version_previews_what_it_adds_and_removes(logged_in, ready, version_two):
    html = preview(logged_in, ready, version_two)
    assert html.lstrip().startswith('<div id="version-preview"'), "only the preview part"
    assert (
        "Input Settings: adds idle_timeout_minutes; removes enable_ssh, hf_token, region." in html
    )
    assert "Output Settings: adds none; removes token." in html
    assert reload(ready).template_version != version_two, "nothing is saved by a preview"
    assert reload(ready).revision == ready.revision


def test_the_current_version_or_one_out_of_reach_previews_nothing(logged_in, ready, research):
    assert "Saving with" not in preview(logged_in, ready, ready.template_version)
    assert ready.project.name != "research"
    private = make_template(research, "someone-elses", sharing="none")  # research's alone
    assert "Saving with" not in preview(logged_in, ready, private)


def test_the_picker_asks_for_the_preview_on_change(logged_in, ready):
    html = logged_in.get(step_url(ready, "general")).content.decode()
    picker = html[html.rindex("<select", 0, html.index('name="template_version"')) :]
    picker = picker[: picker.index(">")]
    assert 'hx-target="#version-preview"' in picker and 'hx-trigger="change"' in picker
    assert '<div id="version-preview"' in html


def test_the_new_variables_arrive_with_the_templates_defaults(logged_in, ready, version_two):
    post_step(logged_in, ready, "general", template_version=str(version_two.pk))
    assert reload(ready).inputs.get(name="idle_timeout_minutes").value == "120"


@pytest.fixture
def stricter_version(system, notebook_version):
    """jupyter-notebook v2, where ``image`` became required and sensitive and ``url`` sensitive."""
    v2 = make_template(
        system,
        "jupyter-notebook",
        version="v2",
        outputs=[{"name": "url", "sensitive": True}, {"name": "token", "sensitive": True}],
    )
    make_variable(v2, "image", "nvcr.io/nvidia/pytorch:25.01-py3", required=True, sensitive=True)
    return v2


def test_a_version_that_tightens_a_kept_variable_tightens_its_input_or_is_refused(
    logged_in, ready, stricter_version
):
    response = post_step(logged_in, ready, "general", template_version=str(stricter_version.pk))
    image = ready.inputs.get(name="image")
    assert response.status_code == 400 or (image.required, image.sensitive, image.value) == (
        True,
        True,
        "",
    )


def test_a_version_that_makes_a_shown_output_sensitive_makes_it_sensitive_or_is_refused(
    logged_in, ready, stricter_version
):
    response = post_step(logged_in, ready, "general", template_version=str(stricter_version.pk))
    assert response.status_code == 400 or ready.outputs.get(name="url").sensitive


# Edits: revisions and stale pages ------------------------------------------------------------


SECTION_CHANGES = {
    "general": {"display_name": "ACME Notebook"},
    "inputs": {"gpu_count:value": "2"},
    "outputs": {"url:display_name": "Notebook URL"},
    "sharing": {"sharing": "all"},
}


def section_state(profile: ServiceProfile) -> tuple:
    """What the four sections hold, to compare before and after a refused save."""
    profile = reload(profile)
    return (
        profile.revision,
        profile.display_name,
        profile.inputs.get(name="gpu_count").value,
        profile.outputs.get(name="url").display_name,
        profile.sharing,
    )


@pytest.mark.parametrize("step", SECTION_CHANGES)
def test_saving_a_section_bumps_the_revision_by_one(logged_in, ready, step):
    response = post_step(logged_in, ready, step, **SECTION_CHANGES[step])
    assert response["Location"] == view_url(ready)
    assert reload(ready).revision == 2
    assert ready.revisions.count() == 2
    assert "(revision 2)" in messages_of(response)[0]


@pytest.mark.parametrize("step", SECTION_CHANGES)
def test_saving_a_section_records_who_changed_what(logged_in, alice, ready, step):
    post_step(logged_in, ready, step, **SECTION_CHANGES[step])
    event = ready.events.order_by("-pk").first()
    expected = "sharing_changed" if step == "sharing" else "updated"
    assert (event.action, event.revision, event.actor) == (expected, 2, alice)
    assert event.detail["changed"]


def test_saving_a_section_unchanged_writes_no_revision(logged_in, ready):
    response = post_step(logged_in, ready, "general")
    assert response.status_code == 302
    assert reload(ready).revision == 1


@pytest.mark.parametrize("step", SECTION_CHANGES)
def test_a_save_from_a_stale_page_is_refused_with_409_naming_who_saved(
    client, platform, alice, ready, step
):
    erin = make_user("erin", platform="admin")
    client.force_login(alice)
    page = open_step(client, ready, step)  # alice opens the page at revision 1 ...
    ready.description = "erin was here"
    ready.save()
    services.commit_revision(profile=ready, actor=erin)  # ... erin saves revision 2 ...
    before = section_state(ready)
    body = page_body(page)
    for key, value in SECTION_CHANGES[step].items():
        if ":" in key:
            name, field = key.split(":")
            key = f"{row(page, name)}-{field}"
        body[key] = value
    response = client.post(step_url(ready, step), body)  # ... and alice saves hers
    html = response.content.decode()
    assert response.status_code == 409
    assert "erin saved this profile" in html
    assert "revision 2" in response.context["revision_form"].non_field_errors()[0]
    assert "Nothing of yours was saved" in html
    assert section_state(ready) == before
    assert reload(ready).description == "erin was here"


def test_a_posted_unique_name_is_ignored(logged_in, ready):
    response = post_step(logged_in, ready, "general", name="renamed", display_name="New Name")
    assert response.status_code == 302
    ready = reload(ready)
    assert (ready.name, ready.display_name) == ("team-notebook", "New Name")
    assert not ServiceProfile.objects.filter(name="renamed").exists()


def test_existing_labels_are_shown_and_kept_when_saving_another_field(logged_in, ready):
    ready.labels = {"team": "ml", "tier": "gold"}
    ready.save()
    response = post_step(logged_in, ready, "general", description="New words.")
    assert response.status_code == 302
    assert reload(ready).labels == {"team": "ml", "tier": "gold"}


def test_removing_every_label_row_clears_the_labels(logged_in, ready):
    ready.labels = {"team": "ml"}
    ready.save()
    post_step(logged_in, ready, "general", **{"labels-key": [""], "labels-value": [""]})
    assert reload(ready).labels == {}


# Sensitive inputs -----------------------------------------------------------------------------


def raw_secret_column(setting_pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM profiles_inputsetting WHERE id = %s", [setting_pk])
        return cursor.fetchone()[0]


def test_the_view_page_says_a_secret_is_set_without_showing_it(logged_in, ready):
    html = logged_in.get(view_url(ready)).content.decode()
    assert SECRET not in html
    assert '<span class="badge text-bg-secondary">set</span>' in html


@pytest.mark.parametrize("step", ServiceProfile.Step.values)
def test_no_section_page_shows_the_secret(logged_in, ready, step):
    assert SECRET not in open_step(logged_in, ready, step).content.decode()


def test_lists_and_home_do_not_show_the_secret(logged_in, ready):
    for name in ["profiles:list", "profiles:studio_home", "profiles:system"]:
        assert SECRET not in logged_in.get(reverse(name, args=["platform"])).content.decode()


def test_the_inputs_page_says_the_secret_is_set(logged_in, ready):
    response = open_step(logged_in, ready, "inputs")
    form = response.context["formset"].forms[int(row(response, "hf_token").split("-")[1])]
    assert form["value"].value() == ""
    assert "Sensitive value: set. Leave empty to keep it." in response.content.decode()


def test_an_empty_secret_keeps_the_stored_one(logged_in, ready):
    response = post_step(
        logged_in, ready, "inputs", **{"hf_token:value": "", "gpu_count:value": "2"}
    )
    assert response.status_code == 302
    assert ready.inputs.get(name="hf_token").secret == SECRET


def test_a_new_secret_replaces_the_stored_one_encrypted(logged_in, ready):
    response = post_step(logged_in, ready, "inputs", **{"hf_token:value": "hf_new_secret"})
    assert response.status_code == 302
    setting = ready.inputs.get(name="hf_token")
    assert (setting.secret, setting.value) == ("hf_new_secret", "")
    assert "hf_new_secret" not in raw_secret_column(setting.pk)
    assert reload(ready).revision == 2
    assert "hf_new_secret" not in str(ready.revisions.get(number=2).document)


def test_a_new_secret_is_not_echoed_when_the_page_comes_back_with_errors(logged_in, ready):
    response = post_step(
        logged_in, ready, "inputs", **{"hf_token:value": "hf_new_secret", "gpu_count:value": "abc"}
    )
    assert response.status_code == 400
    assert "hf_new_secret" not in response.content.decode()
    assert ready.inputs.get(name="hf_token").secret == SECRET


def test_a_secret_typed_into_a_row_newly_marked_sensitive_is_stored_encrypted(logged_in, ready):
    response = post_step(
        logged_in, ready, "inputs", **{"image:sensitive": "on", "image:value": "private/image:1"}
    )
    assert response.status_code == 302
    setting = ready.inputs.get(name="image")
    assert (setting.sensitive, setting.value, setting.secret) == (True, "", "private/image:1")
    assert "private/image:1" not in logged_in.get(view_url(ready)).content.decode()


# Delete ---------------------------------------------------------------------------------------


def delete_url(profile: ServiceProfile) -> str:
    return reverse("profiles:delete", args=[profile.project.name, profile.name])


def test_delete_page_asks_to_type_the_unique_name(logged_in, ready):
    html = logged_in.get(delete_url(ready)).content.decode()
    assert "Type the unique name to confirm" in html
    assert 'data-confirm-delete="team-notebook"' in html


def test_delete_with_the_wrong_name_keeps_the_profile(logged_in, ready):
    response = logged_in.post(delete_url(ready), {"confirm": "team-notebok"})
    assert response.status_code == 400
    assert response.context["form"].errors["confirm"] == [
        "Type team-notebook exactly to delete this profile."
    ]
    assert ServiceProfile.objects.filter(pk=ready.pk).exists()
    assert not ProfileEvent.objects.filter(action="deleted").exists()


def test_delete_with_the_right_name_removes_it_everywhere(
    logged_in, alice, ready, platform, research
):
    ready.sharing = "all"
    ready.save()
    response = logged_in.post(delete_url(ready), {"confirm": "team-notebook"})
    assert response.status_code == 302
    assert response["Location"] == reverse("profiles:list", args=["platform"])
    for queryset in [
        ServiceProfile.objects.all(),
        ServiceProfile.objects.visible_to(platform),
        ServiceProfile.objects.editable_in(platform),
        ServiceProfile.objects.in_catalog_of(research),
    ]:
        assert not queryset.filter(name="team-notebook").exists()
    html = logged_in.get(response["Location"]).content.decode()
    assert 'data-profile="team-notebook"' not in html
    assert logged_in.get(view_url(ready)).status_code == 404


def test_delete_leaves_an_event_with_the_final_document(logged_in, alice, ready):
    logged_in.post(delete_url(ready), {"confirm": "team-notebook"})
    event = ProfileEvent.objects.get(action="deleted")
    assert (event.profile, event.profile_name, event.actor, event.revision) == (
        None,
        "team-notebook",
        alice,
        1,
    )
    document = event.detail["document"]
    assert document["metadata"]["name"] == "team-notebook"
    assert document["metadata"]["displayName"] == "Team Notebook"
    assert SECRET not in str(document)


@pytest.mark.parametrize("typed", ["team-notebook ", " team-notebook", "team-notebook\n"])
def test_delete_confirmation_takes_only_the_exact_name(logged_in, ready, typed):
    response = logged_in.post(delete_url(ready), {"confirm": typed})
    assert response.status_code == 400
    assert response.context["form"].errors["confirm"] == [
        "Type team-notebook exactly to delete this profile."
    ]
    assert ServiceProfile.objects.filter(name="team-notebook").exists()


# Clone ----------------------------------------------------------------------------------------


@pytest.fixture
def system_profile(system, notebook_version):
    return make_profile(
        system,
        "jupyter-notebook",
        display_name="Jupyter Notebook",
        description="The platform's notebook.",
        version=notebook_version,
        status="ready",
        sharing="all",
        labels={"shipped-by": "platform"},
        inputs={"gpu_count": {"display_name": "GPUs", "value": "2"}},
    )


def clone_url(project: str, name: str = "jupyter-notebook") -> str:
    return reverse("profiles:clone", args=[project, name])


def test_clone_page_offers_the_source_name(logged_in, system_profile):
    response = logged_in.get(clone_url("platform"))
    assert response.status_code == 200
    assert response.context["form"]["name"].value() == "jupyter-notebook"
    assert "Clone Jupyter Notebook" in response.content.decode()


def test_clone_creates_a_draft_copy_and_opens_its_general_step(logged_in, system_profile):
    response = logged_in.post(clone_url("platform"), {"name": "our-notebook"})
    clone = ServiceProfile.objects.get(project__name="platform", name="our-notebook")
    assert response.status_code == 302
    assert response["Location"] == step_url(clone, "general")
    assert (clone.status, clone.sharing, clone.revision) == ("draft", "none", 1)
    assert not clone.shared_with.exists()
    assert (clone.display_name, clone.labels) == ("Jupyter Notebook", {"shipped-by": "platform"})
    assert clone.template_version == system_profile.template_version


def test_clone_copies_the_inputs_and_outputs(logged_in, system_profile):
    logged_in.post(clone_url("platform"), {"name": "our-notebook"})
    clone = ServiceProfile.objects.get(name="our-notebook")
    copied = clone.inputs.get(name="gpu_count")
    assert (copied.display_name, copied.value) == ("GPUs", "2")
    assert list(clone.inputs.values_list("name", flat=True)) == list(
        system_profile.inputs.values_list("name", flat=True)
    )
    assert clone.inputs.get(name="hf_token").secret == SECRET
    assert list(clone.outputs.values_list("name", flat=True)) == ["url", "token"]


def test_clone_records_a_cloned_event(logged_in, alice, system_profile):
    logged_in.post(clone_url("platform"), {"name": "our-notebook"})
    event = ServiceProfile.objects.get(name="our-notebook").events.get()
    assert (event.action, event.actor) == ("cloned", alice)
    assert event.detail["from"] == "system-catalog/jupyter-notebook"


def test_clone_leaves_the_system_profile_alone(logged_in, system_profile):
    logged_in.post(clone_url("platform"), {"name": "our-notebook"})
    assert reload(system_profile).revision == 1
    assert system_profile.inputs.get(name="gpu_count").value == "2"


# Readme preview -----------------------------------------------------------------------------------


def test_readme_preview_renders_sanitized_markdown(logged_in, db):
    response = logged_in.post(
        reverse("profiles:readme_preview", args=["platform"]),
        {"readme": "# Hello\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"<h\d>Hello</h\d>", html)
    assert "<script" not in html
    assert "javascript:" not in html
    assert "<html" not in html


def test_readme_preview_of_nothing_says_so(logged_in, db):
    response = logged_in.post(reverse("profiles:readme_preview", args=["platform"]), {})
    assert "Nothing to preview yet." in response.content.decode()


def test_readme_preview_of_an_oversized_readme_does_not_fail(logged_in, db):
    response = logged_in.post(
        reverse("profiles:readme_preview", args=["platform"]), {"readme": "x" * (300 * 1024)}
    )
    assert response.status_code == 200


def test_inputs_of_a_template_that_declares_none_say_so(logged_in, platform, system):
    bare = make_template(system, "bare")
    profile = make_profile(platform, "bare-profile", version=bare, status="ready")
    html = open_step(logged_in, profile, "inputs").content.decode()
    assert "This template version declares no variables" in html
    assert InputSetting.objects.filter(profile=profile).count() == 0


def test_input_settings_lock_what_the_template_decides(logged_in, ready):
    response = open_step(logged_in, ready, "inputs")
    forms = {form.instance.name: form for form in response.context["formset"].forms}
    assert forms["gpu_count"].fields["required"].disabled  # the template requires it
    assert forms["hf_token"].fields["sensitive"].disabled  # the template marks it sensitive
    assert forms["region"].fields["value"].disabled  # the template fixes it
    assert not forms["image"].fields["required"].disabled
    assert forms["enable_ssh"].fields["value"].widget.input_type == "select"


def test_manage_sharing_on_a_draft_says_why_it_lands_on_the_current_step(
    client, alice, platform, notebook_version
):
    draft = make_profile(platform, "early-draft", version=notebook_version, actor=alice)
    assert draft.status == "draft"
    client.force_login(alice)
    response = client.get(reverse("profiles:step", args=["platform", draft.name, "sharing"]))
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "profiles:step", args=["platform", draft.name, draft.wizard_step]
    )
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(said) == 1 and said[0].startswith("Sharing comes after ")
    assert "for a draft: finish" in said[0]
