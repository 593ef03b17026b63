"""The profile document (SPEC §4) in PaaS Studio: the profile view's View YAML tab and its
Download YAML, a revision's download, and the list's Export. Every view is for the project's
admins (``access.admin_required``), as the pages they hang off are.

Documents come from the one serializer the API and ``manage.py export`` use
(:mod:`profiles.documents`, :mod:`profiles.exporting`), written by the API's own YAML dumper.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET
from pygments import highlight
from pygments.formatters.html import HtmlFormatter
from pygments.lexers.data import YamlLexer

from profiles import exporting
from profiles.documents import documents_queryset, profile_document
from profiles.models import ServiceProfile
from studio import access
from studio.formats import YAMLRenderer, dump_yaml
from studio.http import ProjectRequest
from studio.models import Project


def _own_profile(project: Project, name: str) -> ServiceProfile:
    """A profile of the project's own, with what its document reads; 404 for anything else."""
    queryset = documents_queryset(ServiceProfile.objects.editable_in(project))
    return get_object_or_404(queryset, name=name)


def _document_yaml(profile: ServiceProfile, project: Project) -> str:
    """The profile as the API serves it to ``project`` in YAML (``?format=yaml``)."""
    return dump_yaml([profile_document(profile, viewer=project)])


def _highlighted(text: str) -> SafeString:
    """YAML as highlighted HTML (classes only: static/css/highlight.css colours them)."""
    html = highlight(text, YamlLexer(stripnl=False), HtmlFormatter(nowrap=True))
    return mark_safe(html)  # Pygments escapes the text it wraps


def _download(text: str, filename: str) -> HttpResponse:
    """``text`` as a YAML file the browser saves as ``filename``."""
    content_type = f"{YAMLRenderer.media_type}; charset={YAMLRenderer.charset}"
    response = HttpResponse(text, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@require_GET
@access.admin_required
def profile_yaml(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """The View YAML tab: the profile's document, to read, copy or download."""
    profile = _own_profile(project, name)
    document = _document_yaml(profile, project)
    context = {
        "profile": profile,
        "editable": True,
        "tab": "yaml",
        "document": document,
        "document_html": _highlighted(document),
    }
    return render(request, "profiles/profile_yaml.html", context)


@require_GET
@access.admin_required
def profile_yaml_download(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """Download YAML: what the View YAML tab shows, as ``<project>-<name>.yaml``."""
    profile = _own_profile(project, name)
    return _download(_document_yaml(profile, project), f"{project.name}-{profile.name}.yaml")


@require_GET
@access.admin_required
def revision_download(
    request: ProjectRequest, project: Project, name: str, number: int
) -> HttpResponse:
    """One revision's document, as its page shows it."""
    profile = get_object_or_404(ServiceProfile.objects.editable_in(project), name=name)
    revision = get_object_or_404(profile.revisions, number=number)
    filename = f"{project.name}-{profile.name}-revision-{revision.number}.yaml"
    return _download(dump_yaml([revision.document]), filename)


@require_GET
@access.admin_required
def profile_export(request: ProjectRequest, project: Project) -> HttpResponse:
    """Export: the profiles named by ``?name=`` (repeated), or all of the project's, as
    ``manage.py export --project <project> [NAME ...]`` writes them."""
    names = [name for name in request.GET.getlist("name") if name]
    try:
        documents = exporting.export_documents(project=project, names=names)
    except exporting.UnknownProfiles as unknown:
        context = {"problem": str(unknown), "names": unknown.names}
        return render(request, "profiles/export_refused.html", context, status=400)
    return _download(dump_yaml(documents), f"{project.name}-service-profiles.yaml")
