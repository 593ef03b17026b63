"""The app's URLs plus ``bench/bare/``: the cost of the middleware stack with no work behind it."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from studio.urls import urlpatterns as studio_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    """A short answer that reads nothing: the ceiling any page of this stack can reach."""
    return HttpResponse("ok\n", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare, name="bench_bare"), *studio_urlpatterns]
