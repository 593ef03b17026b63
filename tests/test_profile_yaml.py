"""As code in the Studio (issue 12): the profile view's View YAML tab and Download YAML, a
revision's download, and the list's Export.

The tab shows exactly the SPEC §4 document the API serves for the profile (to the byte of its
YAML), highlighted, with no sensitive value in it; the downloads are attachments named after
the project and profile; Export writes what ``manage.py export --project P [NAME ...]`` writes.
Who may open each URL is in tests/test_studio_access.py's matrix.
"""

import contextlib
import html
import io
import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import resolve, reverse

from profiles import services
from profiles.models import ServiceProfile
from studio.formats import dump_yaml
from tests.factories import make_profile

SECRET = "hf_profile_secret"
TEMPLATE_SECRET = "hf_template_secret"  # notebook_version's default for hf_token
README = "# ACME Notebook\n\nGPU notebook.\n\n```python\nprint(1)\n```\n"


@pytest.fixture
def estate(cast, projects, system, notebook_version):
    """platform: a rich ready profile shared with research (its secret set), a plain one and a
    draft; research: one of its own. Returns the cast."""
    platform, research = projects["platform"], projects["research"]
    make_profile(
        platform,
        "acme-notebook",
        display_name="ACME Notebook",
        description='GPU notebook with the team\'s <libraries> & "tools".',
        version=notebook_version,
        status="ready",
        service_type="notebook",
        icon_url="https://example.com/jupyter.svg",
        readme=README,
        labels={"team": "ml"},
        annotations={"owner": "ml-platform@example.com", "notes": "line one\nline two"},
        extra_config={"PIP_INDEX_URL": "https://pypi.example.com/simple"},
        sharing="selected",
        shared_with=[research, projects["finance"]],
        inputs={"gpu_count": {"value": "2"}, "hf_token": {"value": SECRET}},
        outputs={"token": {"display_name": "Access token"}},
        actor=cast["alice"],
    )
    make_profile(platform, "batch-runner", version=notebook_version, status="ready")
    make_profile(platform, "draft-notebook", version=notebook_version, actor=cast["alice"])
    make_profile(research, "research-notebook", version=notebook_version, status="ready")
    return cast


@pytest.fixture
def admin(client, estate):
    """The test client as alice, admin of platform."""
    client.force_login(estate["alice"])
    return client


def yaml_tab(name: str = "acme-notebook") -> str:
    return reverse("profiles:yaml", args=["platform", name])


def api(name: str = "acme-notebook") -> str:
    return reverse("api:profile", args=["platform", name])


def shown_document(page_html: str) -> str:
    """The text of the tab's document, as the browser shows (and Copy copies) it."""
    found = re.search(r'<pre[^>]*id="profile-yaml"[^>]*>(.*?)</pre>', page_html, re.DOTALL)
    assert found, "the tab shows no document"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def export_command(*names: str) -> str:
    """What ``manage.py export --project platform [NAME ...]`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # the command writes to sys.stdout itself
        call_command("export", "--project", "platform", *names, stderr=io.StringIO())
    return out.getvalue()


def assert_yaml_attachment(response, filename: str) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'


# The View YAML tab ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["acme-notebook", "batch-runner", "draft-notebook"])
def test_the_tab_shows_the_document_the_api_serves(admin, name):
    page = admin.get(yaml_tab(name))
    assert page.status_code == 200
    assert yaml.safe_load(shown_document(page.content.decode())) == admin.get(api(name)).json()


def test_the_tab_is_the_apis_yaml_to_the_character(admin):
    page = admin.get(yaml_tab())
    served = admin.get(api(), {"format": "yaml"})
    assert served["Content-Type"].startswith("application/yaml")
    assert shown_document(page.content.decode()) == served.content.decode()


def test_the_tab_shows_what_only_the_owner_sees_of_sharing(admin):
    document = yaml.safe_load(shown_document(admin.get(yaml_tab()).content.decode()))
    assert document["spec"]["sharing"] == {"type": "selected", "projects": ["finance", "research"]}


def test_the_tab_highlights_the_yaml(admin):
    page = admin.get(yaml_tab()).content.decode()
    assert '<span class="nt">apiVersion</span>' in page
    assert 'class="highlight' in page


def test_the_tab_leaves_out_every_sensitive_value(admin):
    page = admin.get(yaml_tab()).content.decode()
    document = yaml.safe_load(shown_document(page))
    token = next(i for i in document["spec"]["inputs"] if i["name"] == "hf_token")
    assert token["sensitive"] is True
    assert "value" not in token
    assert SECRET not in page
    assert TEMPLATE_SECRET not in page


def test_the_tab_escapes_what_admins_typed(admin, estate):
    profile = ServiceProfile.objects.get(name="batch-runner")
    services.save_general(
        profile=profile,
        actor=estate["alice"],
        expected_revision=profile.revision,
        changes={"description": "<script>alert(1)</script> & <b>bold</b>"},
    )
    page = admin.get(yaml_tab("batch-runner")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    document = yaml.safe_load(shown_document(page))
    assert document["metadata"]["description"] == "<script>alert(1)</script> & <b>bold</b>"


def test_the_tab_has_copy_and_download_buttons(admin):
    page = admin.get(yaml_tab()).content.decode()
    assert 'data-copy="profile-yaml"' in page
    download = reverse("profiles:yaml_download", args=["platform", "acme-notebook"])
    assert f'href="{download}"' in page
    assert "Download YAML" in page


def test_the_view_page_has_a_details_and_a_view_yaml_tab(admin):
    page = admin.get(reverse("profiles:view", args=["platform", "acme-notebook"]))
    tabs = page.content.decode().split('aria-label="Profile views"', 1)[1].split("</nav>", 1)[0]
    assert f'href="{yaml_tab()}"' in tabs
    assert "View YAML" in tabs
    current = re.search(r'"nav-link active" aria-current="page"[^>]*><i[^>]*></i> (\w+)', tabs)
    assert current and current.group(1) == "Details"


def test_the_yaml_tab_is_the_current_one_on_its_page(admin):
    page = admin.get(yaml_tab()).content.decode()
    assert re.search(
        rf'class="nav-link active" aria-current="page" href="{yaml_tab()}"[^>]*>'
        r"<i[^>]*></i> View YAML",
        page,
    )


def test_a_profile_shared_into_the_project_has_no_yaml_pages_there(client, estate):
    client.force_login(estate["dave"])  # research's admin; acme-notebook is shared with research
    for url_name in ["profiles:yaml", "profiles:yaml_download"]:
        assert client.get(reverse(url_name, args=["research", "acme-notebook"])).status_code == 404


def test_an_unknown_profile_has_no_yaml_tab(admin):
    assert admin.get(yaml_tab("no-such-profile")).status_code == 404


# Download YAML ------------------------------------------------------------------------------------


def test_download_yaml_is_an_attachment_named_after_project_and_profile(admin):
    response = admin.get(reverse("profiles:yaml_download", args=["platform", "acme-notebook"]))
    assert_yaml_attachment(response, "platform-acme-notebook.yaml")


def test_download_yaml_is_the_document_the_tab_shows(admin):
    response = admin.get(reverse("profiles:yaml_download", args=["platform", "acme-notebook"]))
    text = response.content.decode()
    assert text == shown_document(admin.get(yaml_tab()).content.decode())
    assert yaml.safe_load(text) == admin.get(api()).json()
    assert SECRET not in text
    assert TEMPLATE_SECRET not in text


# A revision's download ----------------------------------------------------------------------------


def revision_download(number: int) -> str:
    return reverse("profiles:revision_download", args=["platform", "acme-notebook", number])


def test_a_revisions_document_downloads_as_its_page_shows_it(admin, estate):
    profile = ServiceProfile.objects.get(name="acme-notebook")
    services.save_general(
        profile=profile, actor=estate["alice"], expected_revision=1, changes={"display_name": "X"}
    )
    response = admin.get(revision_download(1))
    assert_yaml_attachment(response, "platform-acme-notebook-revision-1.yaml")
    first = profile.revisions.get(number=1).document
    assert response.content.decode() == dump_yaml([first])
    assert yaml.safe_load(response.content)["metadata"]["displayName"] == "ACME Notebook"
    assert yaml.safe_load(admin.get(revision_download(2)).content)["metadata"]["displayName"] == "X"
    assert SECRET not in response.content.decode()


def test_the_revision_page_links_its_download(admin):
    page = admin.get(reverse("profiles:revision", args=["platform", "acme-notebook", 1]))
    assert f'href="{revision_download(1)}"' in page.content.decode()


def test_a_revision_that_does_not_exist_has_no_download(admin):
    assert admin.get(revision_download(9)).status_code == 404


def test_another_projects_revision_is_not_downloaded(admin):
    url = reverse("profiles:revision_download", args=["platform", "research-notebook", 1])
    assert admin.get(url).status_code == 404


# Export -------------------------------------------------------------------------------------------


def export_url() -> str:
    return reverse("profiles:export", args=["platform"])


def test_export_of_all_is_what_manage_py_export_writes(admin):
    response = admin.get(export_url())
    assert_yaml_attachment(response, "platform-service-profiles.yaml")
    assert response.content.decode() == export_command()
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(response.content)]
    assert names == ["acme-notebook", "batch-runner", "draft-notebook"]


def test_export_of_selected_profiles_is_what_manage_py_export_writes(admin):
    response = admin.get(export_url(), {"name": ["draft-notebook", "acme-notebook"]})
    assert_yaml_attachment(response, "platform-service-profiles.yaml")
    assert response.content.decode() == export_command("draft-notebook", "acme-notebook")
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(response.content)]
    assert names == ["acme-notebook", "draft-notebook"]


def test_export_leaves_out_every_sensitive_value(admin):
    text = admin.get(export_url()).content.decode()
    assert SECRET not in text
    assert TEMPLATE_SECRET not in text


def test_export_ignores_empty_names(admin):
    response = admin.get(export_url(), {"name": ["", "batch-runner"]})
    assert response.content.decode() == export_command("batch-runner")


def test_export_of_an_unknown_name_exports_nothing_and_says_why(admin):
    response = admin.get(export_url(), {"name": ["acme-notebook", "gone", "<b>x</b>"]})
    assert response.status_code == 400
    assert "Content-Disposition" not in response
    page = response.content.decode()
    assert "Nothing was exported" in page
    assert "Project platform has no profile named &lt;b&gt;x&lt;/b&gt;, gone." in page
    assert "<b>x</b>" not in page


def test_export_does_not_take_a_profile_shared_into_the_project(client, estate):
    client.force_login(estate["dave"])
    url = reverse("profiles:export", args=["research"])
    assert client.get(url, {"name": "acme-notebook"}).status_code == 400
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(client.get(url).content)]
    assert names == ["research-notebook"]


# The URLs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ServiceProfile.Step.values)
def test_every_step_is_still_a_step(step):
    assert resolve(f"/projects/platform/studio/service-profiles/yaml/{step}/").url_name == "step"


@pytest.mark.parametrize("name", ["export", "yaml", "download"])
def test_a_profile_of_any_name_keeps_its_pages(name):
    base = f"/projects/platform/studio/service-profiles/{name}/"
    assert resolve(base).url_name == "view"
    assert resolve(base).kwargs == {"project": "platform", "name": name}
    assert resolve(f"{base}yaml/").url_name == "yaml"
    assert resolve(f"{base}yaml/download/").url_name == "yaml_download"
    assert resolve(f"{base}revisions/1/download/").url_name == "revision_download"


@pytest.mark.parametrize("text", ["1e+100", "1e100", "0o17", "0x1F", ".5e3", "-.inf", ".nan", "12"])
def test_text_that_reads_as_a_number_is_written_quoted(text):
    written = dump_yaml([{"field": text}])
    assert written.strip() in {f"field: '{text}'", f'field: "{text}"'}
    assert yaml.safe_load(written) == {"field": text}
