"""Nothing typed is lost, and errors are findable (issue 12), through the test client.

- A sensitive value typed on Input Settings that is refused for another field's error is kept
  for the next try: encrypted in the session, for that profile, step and row only, never
  written back into the page; the next save uses it and a successful one discards it.
- A save on a profile deleted meanwhile answers 404 with a page that says so and shows what
  was typed, sensitive values masked.
- A form with several errors has a summary at the top, one link per error to its control;
  each label, annotation and extra configuration error sits under its own row.
"""

import json
import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory
from django.urls import reverse

from profiles import kept, services
from profiles.models import ServiceProfile
from tests.factories import make_profile, make_template, make_user
from tests.test_studio_wizard import (
    SECRET,
    new_profile_body,
    open_step,
    page_body,
    row,
    step_url,
)

TYPED = "hf_typed_but_refused"  # what the admin types into the sensitive hf_token box


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def ready(platform, notebook_version, alice):
    """alice's ready ``team-notebook``; its hf_token holds the template's secret."""
    return make_profile(
        platform,
        "team-notebook",
        display_name="Team Notebook",
        version=notebook_version,
        status="ready",
        wizard_step="sharing",
        actor=alice,
    )


def post_inputs(client, profile, page=None, **changes):
    """Post Input Settings as the page rendered them, with ``changes`` as ``variable:field``."""
    page = page or open_step(client, profile, "inputs")
    body = page_body(page)
    for key, value in changes.items():
        name, field = key.split(":")
        body[f"{row(page, name)}-{field}"] = value
    return client.post(step_url(profile, "inputs"), body)


def refuse_with_typed_secret(client, profile, secret: str = TYPED):
    """Type ``secret`` into hf_token, and a GPU count that is no number: refused."""
    response = post_inputs(client, profile, **{"hf_token:value": secret, "gpu_count:value": "x"})
    assert response.status_code == 400
    return response


def help_text_of(response, variable: str) -> str:
    form = next(
        f for f in response.context["formset"].forms if f.instance.name == variable
    )  # fmt: skip
    return form.fields["value"].help_text


def stored_session(client) -> dict:
    """The session as the database holds it, decoded."""
    return Session.objects.get(session_key=client.session.session_key).get_decoded()


# The kept secret ---------------------------------------------------------------------------


def test_a_secret_refused_for_another_field_is_kept_encrypted_in_the_session(logged_in, ready):
    refuse_with_typed_secret(logged_in, ready)
    store = stored_session(logged_in)[kept.SESSION_KEY]
    assert len(store) == 1
    (key, item), = store.items()  # fmt: skip
    setting = ready.inputs.get(name="hf_token")
    assert key == f"{ready.pk}:inputs:{setting.pk}"
    assert item["token"].startswith("fernet:")
    assert TYPED not in json.dumps(store)
    raw = Session.objects.get(session_key=logged_in.session.session_key).session_data
    assert TYPED not in raw


def test_the_kept_secret_is_never_written_back_into_the_page(logged_in, ready):
    response = refuse_with_typed_secret(logged_in, ready)
    assert TYPED not in response.content.decode()
    again = open_step(logged_in, ready, "inputs")
    assert TYPED not in again.content.decode()


def test_the_box_says_its_value_is_kept_from_the_last_try(logged_in, ready):
    response = refuse_with_typed_secret(logged_in, ready)
    words = "Sensitive value: kept from your last try, not saved yet. Leave empty to keep it"
    assert help_text_of(response, "hf_token").startswith(words)
    assert words in response.content.decode()
    assert help_text_of(open_step(logged_in, ready, "inputs"), "hf_token").startswith(words)


def test_the_next_save_uses_the_kept_secret(logged_in, ready):
    refuse_with_typed_secret(logged_in, ready)
    response = post_inputs(logged_in, ready, **{"hf_token:value": "", "gpu_count:value": "2"})
    assert response.status_code == 302
    setting = ready.inputs.get(name="hf_token")
    assert (setting.secret, setting.value) == (TYPED, "")


def test_a_second_refusal_keeps_the_secret_still(logged_in, ready):
    refuse_with_typed_secret(logged_in, ready)
    response = post_inputs(logged_in, ready, **{"hf_token:value": "", "gpu_count:value": "y"})
    assert response.status_code == 400
    post_inputs(logged_in, ready, **{"hf_token:value": "", "gpu_count:value": "2"})
    assert ready.inputs.get(name="hf_token").secret == TYPED


def test_a_new_value_typed_replaces_the_kept_one(logged_in, ready):
    refuse_with_typed_secret(logged_in, ready)
    post_inputs(logged_in, ready, **{"hf_token:value": "hf_second", "gpu_count:value": "2"})
    assert ready.inputs.get(name="hf_token").secret == "hf_second"


def test_a_successful_save_discards_the_kept_secret(logged_in, ready):
    refuse_with_typed_secret(logged_in, ready)
    post_inputs(logged_in, ready, **{"hf_token:value": "", "gpu_count:value": "2"})
    assert stored_session(logged_in).get(kept.SESSION_KEY) == {}
    page = open_step(logged_in, ready, "inputs")
    assert help_text_of(page, "hf_token") == "Sensitive value: set. Leave empty to keep it."


def test_another_session_of_the_same_admin_cannot_use_it(logged_in, alice, ready):
    refuse_with_typed_secret(logged_in, ready)
    other = Client()
    other.force_login(alice)
    page = open_step(other, ready, "inputs")
    assert help_text_of(page, "hf_token") == "Sensitive value: set. Leave empty to keep it."
    response = post_inputs(other, ready, page, **{"hf_token:value": "", "gpu_count:value": "2"})
    assert response.status_code == 302
    assert ready.inputs.get(name="hf_token").secret == SECRET


def test_another_profile_cannot_use_it(logged_in, platform, notebook_version, alice, ready):
    other = make_profile(
        platform, "other-notebook", version=notebook_version, status="ready",
        wizard_step="sharing", actor=alice,
    )  # fmt: skip
    refuse_with_typed_secret(logged_in, ready)
    page = open_step(logged_in, other, "inputs")
    assert "kept from your last try" not in page.content.decode()
    response = post_inputs(logged_in, other, page, **{"hf_token:value": "", "gpu_count:value": "2"})
    assert response.status_code == 302
    assert other.inputs.get(name="hf_token").secret == SECRET


def kept_request(user, session):
    request = RequestFactory().get("/")
    request.user, request.session = user, session
    return request


def test_what_is_kept_is_for_its_step_and_its_user_only(alice, ready):
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    request = kept_request(alice, session)
    kept.keep(request, profile=ready, step="inputs", field="7", value="s3cret")
    assert kept.kept_values(request, profile=ready, step="inputs") == {"7": "s3cret"}
    assert kept.kept_values(request, profile=ready, step="general") == {}
    erin = make_user("erin", platform="admin")
    assert kept.kept_values(kept_request(erin, session), profile=ready, step="inputs") == {}


def test_what_is_kept_expires(alice, ready, monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore

    request = kept_request(alice, SessionStore())
    kept.keep(request, profile=ready, step="inputs", field="7", value="s3cret")
    monkeypatch.setattr(kept, "KEEP_SECONDS", -1)
    assert kept.kept_values(request, profile=ready, step="inputs") == {}
    assert request.session[kept.SESSION_KEY] == {}


def test_signing_out_forgets_what_was_kept(logged_in, alice, ready):
    refuse_with_typed_secret(logged_in, ready)
    logged_in.post(reverse("logout"))
    logged_in.force_login(alice)
    page = open_step(logged_in, ready, "inputs")
    assert help_text_of(page, "hf_token") == "Sensitive value: set. Leave empty to keep it."


def test_a_value_typed_into_a_row_newly_marked_sensitive_is_kept_too(logged_in, ready):
    response = post_inputs(
        logged_in, ready,
        **{"image:sensitive": "on", "image:value": "private/image:1", "gpu_count:value": "x"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "private/image:1" not in response.content.decode()
    assert help_text_of(response, "image").startswith("Sensitive value: kept from your last try")
    page = open_step(logged_in, ready, "inputs")
    body = page_body(page)
    body |= {f"{row(page, 'image')}-sensitive": "on", f"{row(page, 'image')}-value": ""}
    assert logged_in.post(step_url(ready, "inputs"), body).status_code == 302
    setting = ready.inputs.get(name="image")
    assert (setting.sensitive, setting.value, setting.secret) == (True, "", "private/image:1")


@pytest.fixture
def numbered_secret(platform, alice):
    """A ready profile whose one input, ``port``, is a sensitive number."""
    version = make_template(
        platform, "secret-port",
        variables=[{"name": "port", "value_type": "number", "sensitive": True, "value": "1"}],
    )  # fmt: skip
    return make_profile(
        platform, "port-profile", version=version, status="ready", wizard_step="sharing",
        actor=alice,
    )  # fmt: skip


def test_a_secret_that_is_itself_refused_is_not_kept(logged_in, numbered_secret):
    response = post_inputs(logged_in, numbered_secret, **{"port:value": "not-a-number"})
    assert response.status_code == 400
    assert response.context["formset"].forms[0].errors["value"]
    assert not stored_session(logged_in).get(kept.SESSION_KEY)
    assert help_text_of(response, "port") == "Sensitive value: set. Leave empty to keep it."


# A save on a profile deleted meanwhile -------------------------------------------------------

TYPED_ON = {
    "general": {"display_name": "Typed Display Name", "description": "Words typed meanwhile."},
    "inputs": {"image:value": "typed/image:2", "hf_token:value": TYPED},
    "outputs": {"url:display_name": "Typed URL name"},
    "sharing": {"sharing": "all"},
}
SHOWN = {
    "general": ["Typed Display Name", "Words typed meanwhile."],
    "inputs": ["typed/image:2", "hf_token", "•••••• (sensitive: not shown)"],
    "outputs": ["Typed URL name"],
    "sharing": ["All Projects"],
}


def body_with(page, changes: dict) -> dict:
    body = page_body(page)
    for key, value in changes.items():
        if ":" in key:
            name, field = key.split(":")
            key = f"{row(page, name)}-{field}"
        body[key] = value
    return body


@pytest.mark.parametrize("step", TYPED_ON)
def test_a_save_on_a_profile_deleted_meanwhile_says_so_with_what_was_typed(
    logged_in, platform, ready, step
):
    page = open_step(logged_in, ready, step)
    erin = make_user("erin", platform="admin")
    services.delete_profile(profile=ServiceProfile.objects.get(pk=ready.pk), actor=erin)
    response = logged_in.post(step_url(ready, step), body_with(page, TYPED_ON[step]))
    html = response.content.decode()
    assert response.status_code == 404
    assert "team-notebook</span> was deleted" in html
    assert "erin deleted it at" in html
    assert "Nothing of yours was saved." in html
    for text in SHOWN[step]:
        assert text in html
    assert TYPED not in html


def test_the_deleted_page_masks_a_secret_typed_into_a_row_marked_sensitive(logged_in, ready):
    page = open_step(logged_in, ready, "inputs")
    services.delete_profile(profile=ServiceProfile.objects.get(pk=ready.pk), actor=None)
    body = body_with(page, {"image:sensitive": "on", "image:value": "private/image:1"})
    response = logged_in.post(step_url(ready, "inputs"), body)
    assert response.status_code == 404
    assert "private/image:1" not in response.content.decode()


def test_a_profile_deleted_between_loading_and_saving_says_so_too(logged_in, ready, monkeypatch):
    page = open_step(logged_in, ready, "general")
    loaded = ServiceProfile.objects.get(pk=ready.pk)
    services.delete_profile(profile=ServiceProfile.objects.get(pk=ready.pk), actor=None)
    monkeypatch.setattr("profiles.views._own_profile", lambda project, name: loaded)
    body = body_with(page, {"display_name": "Typed Display Name"})
    response = logged_in.post(step_url(ready, "general"), body)
    assert response.status_code == 404
    assert "Typed Display Name" in response.content.decode()


def test_a_profile_deleted_and_made_again_is_not_saved_over(
    logged_in, platform, notebook_version, alice, ready
):
    page = open_step(logged_in, ready, "general")
    services.delete_profile(profile=ServiceProfile.objects.get(pk=ready.pk), actor=alice)
    again = make_profile(
        platform, "team-notebook", display_name="The New One", version=notebook_version,
        status="ready", wizard_step="sharing", actor=alice,
    )  # fmt: skip
    assert again.revision == 1  # the same revision number the old page was loaded at
    response = logged_in.post(
        step_url(again, "general"), body_with(page, {"display_name": "Typed Display Name"})
    )
    assert response.status_code == 404
    assert "open the new team-notebook" in response.content.decode()
    assert ServiceProfile.objects.get(pk=again.pk).display_name == "The New One"


def test_opening_a_step_of_a_deleted_profile_says_it_was_deleted(logged_in, ready):
    url = step_url(ready, "general")
    services.delete_profile(profile=ServiceProfile.objects.get(pk=ready.pk), actor=None)
    response = logged_in.get(url)
    assert response.status_code == 404
    assert "was deleted" in response.content.decode()


def test_a_profile_that_never_was_is_a_plain_404(logged_in, platform):
    url = reverse("profiles:step", args=["platform", "never-was", "general"])
    response = logged_in.post(url, {"display_name": "x"})
    assert response.status_code == 404
    assert "was deleted" not in response.content.decode()


def test_an_outsider_learns_nothing_of_a_deleted_profile(client, dave, ready):
    url = step_url(ready, "general")
    services.delete_profile(profile=ServiceProfile.objects.get(pk=ready.pk), actor=None)
    client.force_login(dave)  # admin of research, not of platform
    response = client.post(url, {"display_name": "x"})
    assert response.status_code == 404
    assert "team-notebook" not in response.content.decode()


# The error summary -----------------------------------------------------------------------------


def summary_of(html: str) -> str:
    found = re.search(r"<section[^>]*data-error-summary.*?</section>", html, re.S)
    return found.group(0) if found else ""


def summary_links(html: str) -> list[tuple[str, str]]:
    """(target id, text) of each link of the page's error summary."""
    return [
        (target, " ".join(re.sub(r"<[^>]+>", "", text).split()))
        for target, text in re.findall(
            r'<li><a class="alert-link fw-normal" href="#([^"]+)" data-error-link>(.*?)</a></li>',
            summary_of(html),
            re.S,
        )
    ]


def post_new(client, version, **changes):
    return client.post(
        reverse("profiles:new", args=["platform"]), new_profile_body(version, **changes)
    )


def test_several_errors_get_a_summary_with_a_link_per_error(logged_in, notebook_version):
    response = post_new(
        logged_in, notebook_version, display_name="", icon_url="ftp://x",
        **{"labels-key": ["bad key!", "ok"], "labels-value": ["v", "w"]},
    )  # fmt: skip
    html = response.content.decode()
    links = summary_links(html)
    assert [target for target, _ in links] == ["id_display_name", "id_icon_url", "id_labels-key-1"]
    assert links[0][1] == "Display Name: This field is required."
    assert links[2][1].startswith("Labels, label 1: “bad key!”")
    for target, _ in links:
        assert f'id="{target}"' in html
    assert "Nothing was saved: fix these 3 problems" in summary_of(html)
    assert 'tabindex="-1"' in summary_of(html)


def test_one_error_on_general_gets_no_summary(logged_in, notebook_version):
    response = post_new(logged_in, notebook_version, display_name="")
    assert response.status_code == 400
    assert not summary_of(response.content.decode())


def test_input_settings_sum_up_even_one_error_with_a_link_to_its_box(logged_in, ready):
    response = post_inputs(logged_in, ready, **{"gpu_count:value": "x"})
    links = summary_links(response.content.decode())
    assert len(links) == 1
    target, text = links[0]
    assert target == f"id_{row(response, 'gpu_count')}-value"
    assert text.startswith("gpu_count · Default value:")


def test_each_label_error_sits_under_its_own_row(logged_in, notebook_version):
    response = post_new(
        logged_in, notebook_version,
        **{"labels-key": ["bad key!", "fine", "x" * 70], "labels-value": ["v", "ok", ""]},
    )  # fmt: skip
    html = response.content.decode()
    labels = html[html.index('<legend class="form-label fs-6 fw-semibold mb-1">Labels</legend>') :]
    labels = labels[: labels.index("<template data-kv-template>")]
    rows = labels.split('<div class="kv-row row')[1:]
    assert len(rows) == 3
    assert "“bad key!”: use letters" in rows[0] and 'aria-invalid="true"' in rows[0]
    assert "invalid-feedback" not in rows[1] and "aria-invalid" not in rows[1]
    assert "longer than 63 characters" in rows[2]
    assert 'aria-describedby="id_labels_error_2"' in rows[2]
    assert response.context["form"].errors["labels"] == [
        "“bad key!”: use letters, digits, “-”, “_” and “.”, beginning and ending with a letter "
        "or digit.",
        f"“{'x' * 70}”: the name is longer than 63 characters.",
    ]


def test_annotation_and_extra_configuration_errors_sit_under_their_rows(
    logged_in, notebook_version
):
    response = post_new(
        logged_in, notebook_version,
        **{
            "annotations-key": ["ok", "-bad"], "annotations-value": ["a", "b"],
            "extra_config-key": ["1BAD", "FINE", "FINE"], "extra_config-value": ["x", "y", "z"],
        },
    )  # fmt: skip
    links = dict(summary_links(response.content.decode()))
    assert links["id_annotations-key-2"].startswith("Annotations, annotation 2: “-bad”")
    assert links["id_extra_config-key-1"].startswith("Extra Configuration, setting 1: “1BAD”")
    assert links["id_extra_config-key-3"] == (
        "Extra Configuration, setting 3: Each setting key may appear once; given more than "
        "once: FINE."
    )


@pytest.fixture
def disabled_source(system, notebook_version, platform, alice):
    """The system profile jupyter-notebook, on a version since disabled; platform has a
    profile named taken."""
    make_profile(
        system, "jupyter-notebook", version=notebook_version, status="ready", sharing="all"
    )
    make_profile(platform, "taken", version=notebook_version, actor=alice)
    notebook_version.state = "disabled"
    notebook_version.save()


def clone_post(client, name: str):
    url = reverse("profiles:clone", args=["platform", "jupyter-notebook"])
    response = client.post(url, {"name": name})
    assert response.status_code == 400
    return response.content.decode()


def test_the_clone_page_says_why_a_profile_cannot_be_cloned(logged_in, disabled_source):
    html = clone_post(logged_in, "fresh-name")
    assert 'id="clone-problems"' in html
    assert "This system profile cannot be cloned now" in html
    assert not summary_of(html)


def test_the_clone_page_sums_up_several_errors_once(logged_in, disabled_source):
    html = clone_post(logged_in, "taken")
    summary = summary_of(html)
    assert "Nothing was cloned: fix these 2 problems" in summary
    assert "This system profile cannot be cloned now" in summary
    assert [target for target, _ in summary_links(html)] == ["id_name"]
    assert 'id="clone-problems"' not in html  # the summary holds it: not said twice


# Small form helps ------------------------------------------------------------------------------


def test_display_name_and_description_carry_a_character_counter(logged_in):
    html = logged_in.get(reverse("profiles:new", args=["platform"])).content.decode()
    display_name = re.search(r"<input[^>]*id=\"id_display_name\"[^>]*>", html).group(0)
    description = re.search(r"<textarea[^>]*id=\"id_description\"[^>]*>", html).group(0)
    assert "data-char-count" in display_name and 'maxlength="100"' in display_name
    assert "data-char-count" in description and 'maxlength="2000"' in description
    assert "js/form-feedback.js" in html


def test_the_delete_page_opens_with_the_confirmation_box_focused(logged_in, ready):
    html = logged_in.get(reverse("profiles:delete", args=["platform", ready.name])).content
    field = re.search(r'<input[^>]*name="confirm"[^>]*>', html.decode()).group(0)
    assert "autofocus" in field


def test_wizard_steps_are_watched_for_unsaved_changes(logged_in, ready):
    for step in ["general", "inputs", "outputs", "sharing"]:
        html = open_step(logged_in, ready, step).content.decode()
        assert 'data-leave-guard=""' in html
        assert 'id="leave-dialog"' in html and "js/leave-guard.js" in html
    response = post_inputs(logged_in, ready, **{"gpu_count:value": "x"})
    assert 'data-leave-guard="unsaved"' in response.content.decode()
