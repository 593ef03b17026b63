"""What every list page shares: the whole page, or just its htmx fragment."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from studio.http import HtmxRequest


def page_or_fragment(
    request: HtmxRequest, template: str, context: dict, fragment: str = "results"
) -> HttpResponse:
    """The whole page, or only ``template#fragment`` for an htmx request that swaps it in.

    A history restore (htmx reloading a page after Back) and a boosted request get the whole
    page. The response varies on HX-Request, so a browser cache never hands a fragment to a
    plain navigation (or the page to htmx).
    """
    htmx = request.htmx
    wants_fragment = htmx and not htmx.boosted and not htmx.history_restore_request
    name = f"{template}#{fragment}" if wants_fragment else template
    response = render(request, name, context)
    patch_vary_headers(response, ["HX-Request", "HX-History-Restore-Request"])
    return response
