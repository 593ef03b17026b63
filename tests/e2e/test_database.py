"""Browser tests use the database pytest-django prepared, through the connection it prepared:
the rows the migrations made (the system catalog) are there in each of them, as in every other
test. The ``playwright`` fixture in conftest.py keeps one connection per database beside
Playwright's event loop; without it, the second browser test on would find them gone."""

import pytest
from playwright.sync_api import Page, expect

from studio.models import SYSTEM_CATALOG, Project

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.parametrize("run", ["first", "second"])
def test_the_rows_the_migrations_made_are_there_in_every_browser_test(page: Page, live_server, run):
    page.goto(live_server.url + "/accounts/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert Project.objects.filter(name=SYSTEM_CATALOG).exists()
