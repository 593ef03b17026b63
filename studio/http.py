"""The requests our views receive, typed: what middleware and the access decorators attach.

Django's ``HttpRequest`` declares none of these, so views annotate their ``request`` with the
narrowest of these classes that holds what they read (as django-htmx's own example does).
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from studio.models import Project


class HtmxRequest(HttpRequest):
    """Any request: ``htmx`` is set by django-htmx's middleware (falsy for plain requests)."""

    htmx: HtmxDetails
    user: AbstractBaseUser | AnonymousUser


class AuthedRequest(HtmxRequest):
    """A request behind ``login_required``: the user is signed in."""

    user: AbstractBaseUser


class ProjectRequest(AuthedRequest):
    """A request for a page under ``/projects/<project>/``: ``project`` is set by
    :func:`studio.access.member_required` / :func:`~studio.access.admin_required`, fetched
    with the user's ``role`` on it."""

    project: Project
