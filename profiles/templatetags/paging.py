"""Page numbers for the lists' paginators (templates/profiles/_pagination.html)."""

from collections.abc import Iterator

from django import template
from django.core.paginator import Page

register = template.Library()


@register.filter
def page_numbers(page: Page) -> Iterator[int | str]:
    """The numbers to link from ``page``: the first and last, two either side of the current
    one, and ``Paginator.ELLIPSIS`` where a run of numbers is left out (1 … 4 5 6 7 8 … 20)."""
    return page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
