"""What every list's filter set shares: a search box where each word typed must be found."""

from functools import reduce
from operator import or_

import django_filters
from django.db.models import Q, QuerySet

MAX_WORDS = 10  # more words narrow nothing a person would notice, and cost a join each


def every_word_in(queryset: QuerySet, text: str, fields: tuple[str, ...]) -> QuerySet:
    """The rows where each word of ``text`` is in one of ``fields`` (case-insensitive)."""
    for word in text.split()[:MAX_WORDS]:
        queryset = queryset.filter(reduce(or_, (Q(**{f"{f}__icontains": word}) for f in fields)))
    return queryset


class SearchFilterSet(django_filters.FilterSet):
    """A filter set with a ``q`` search over ``search_fields``: every word must be found."""

    search_fields: tuple[str, ...] = ()

    q = django_filters.CharFilter(method="search", label="Search")

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return every_word_in(queryset, value, self.search_fields)
