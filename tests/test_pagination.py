"""Page numbers in the lists' paginators (templates/profiles/_pagination.html): the first and
last pages, two either side of the current one, an ellipsis for each run left out, the current
page marked ``aria-current="page"``, and every link keeping the list's search and filters."""

import re

import pytest
from django.urls import reverse

from profiles.models import ServiceProfile
from tests.factories import make_template, profiles_in_bulk

PER_PAGE = 20


@pytest.fixture
def twelve_pages(platform, system):
    """12 pages of platform's profiles (bulk-*), all notebooks, and one that no search finds."""
    version = make_template(system, "small", sharing="all")
    profiles_in_bulk(
        ServiceProfile(
            project=platform,
            name=name,
            display_name=name.replace("-", " ").title(),
            template_version=version,
            service_type="notebook",
        )
        for name in [f"bulk-{n:03}" for n in range(PER_PAGE * 12)] + ["other-jobs"]
    )


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def list_url() -> str:
    return reverse("profiles:list", args=["platform"])


def pages(html: str) -> list[tuple[str, str | None, bool]]:
    """The paginator's items: (text, href or None, marked current), Previous and Next included."""
    nav = re.search(r'<nav aria-label="Pages".*?</nav>', html, re.S)
    assert nav, "no paginator"
    items = []
    for item in re.findall(r'<li class="page-item[^"]*">(.*?)</li>', nav.group(0), re.S):
        href = re.search(r'href="([^"]*)"', item)
        text = re.sub(r'<span class="visually-hidden">[^<]*</span>|<[^>]+>', "", item).strip()
        items.append((text, href.group(1) if href else None, 'aria-current="page"' in item))
    return items


def test_a_page_in_the_middle_shows_its_neighbours_the_ends_and_ellipses(logged_in, twelve_pages):
    html = logged_in.get(list_url(), {"q": "bulk", "page": 6}).content.decode()
    assert [text for text, _, _ in pages(html)] == [
        "Previous", "1", "…", "4", "5", "6", "7", "8", "…", "12", "Next",
    ]  # fmt: skip


def test_the_current_page_is_marked_and_is_not_a_link(logged_in, twelve_pages):
    html = logged_in.get(list_url(), {"q": "bulk", "page": 6}).content.decode()
    current = [(text, href) for text, href, marked in pages(html) if marked]
    assert current == [("6", None)]
    assert "Page 6 of 12" in html  # what a screen reader hears for it


def test_ellipses_are_not_links(logged_in, twelve_pages):
    html = logged_in.get(list_url(), {"q": "bulk", "page": 6}).content.decode()
    assert [href for text, href, _ in pages(html) if text == "…"] == [None, None]


def test_page_links_keep_the_search_and_filters(logged_in, twelve_pages):
    query = {"q": "bulk", "service_type": "notebook", "ordering": "-created_at", "page": 6}
    html = logged_in.get(list_url(), query).content.decode()
    links = {text: href for text, href, _ in pages(html) if href}
    keep = "?q=bulk&amp;service_type=notebook&amp;ordering=-created_at&amp;page="
    assert links == {
        "Previous": f"{keep}5",
        "1": f"{keep}1",
        "4": f"{keep}4",
        "5": f"{keep}5",
        "7": f"{keep}7",
        "8": f"{keep}8",
        "12": f"{keep}12",
        "Next": f"{keep}7",
    }


def test_htmx_swaps_the_same_pages_in(logged_in, twelve_pages):
    html = logged_in.get(list_url(), {"q": "bulk", "page": 6}).content.decode()
    nav = re.search(r'<nav aria-label="Pages".*?</nav>', html, re.S).group(0)
    for href, hx_get in re.findall(r'href="([^"]*)" hx-get="([^"]*)"', nav):
        assert href == hx_get
    assert nav.count('hx-target="#results"') == 8


def test_the_first_page_has_no_ellipsis_before_its_neighbours(logged_in, twelve_pages):
    html = logged_in.get(list_url(), {"q": "bulk"}).content.decode()
    assert [(text, bool(href)) for text, href, _ in pages(html)] == [
        ("Previous", False), ("1", False), ("2", True), ("3", True), ("…", False),
        ("12", True), ("Next", True),
    ]  # fmt: skip


def test_the_last_page_has_no_ellipsis_after_its_neighbours(logged_in, twelve_pages):
    html = logged_in.get(list_url(), {"q": "bulk", "page": 12}).content.decode()
    assert [text for text, _, _ in pages(html)] == [
        "Previous", "1", "…", "10", "11", "12", "Next",
    ]  # fmt: skip


def test_a_few_pages_are_all_numbered(logged_in, platform, system):
    version = make_template(system, "small", sharing="all")
    profiles_in_bulk(
        ServiceProfile(project=platform, name=f"few-{n:02}", display_name=f"Few {n}",
                       template_version=version)
        for n in range(PER_PAGE * 3)
    )  # fmt: skip
    html = logged_in.get(list_url(), {"page": 2}).content.decode()
    assert [text for text, _, _ in pages(html)] == ["Previous", "1", "2", "3", "Next"]


def test_one_page_has_no_paginator(logged_in, twelve_pages):
    html = logged_in.get(list_url(), {"q": "other"}).content.decode()
    assert 'aria-label="Pages"' not in html
