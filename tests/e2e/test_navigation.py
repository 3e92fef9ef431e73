"""The navigation bar fits one line at 1280 px for every role, the superuser's (the most
links) and a long user name included; narrower, it folds behind its menu button."""

import re

import pytest
from playwright.sync_api import expect

from tests.base import PASSWORD, ROLES, make_user


def boxes(page):
    """The bar's brand, links, user name and sign-out button, where they are drawn."""
    items = page.locator("nav.app-nav").locator(".nav-link, .navbar-brand, .navbar-text, button")
    return [items.nth(i).bounding_box() for i in range(items.count()) if items.nth(i).is_visible()]


@pytest.mark.parametrize("role", ["superuser", "clinician", "staff", "guidance_admin"])
def test_the_navigation_fits_one_line_at_1280_px(page, sign_in, role):
    name = "a.very-long-user-name-0123"  # 26 characters
    if role == "superuser":
        user = make_user(name, is_superuser=True, is_staff=True)
    else:
        user = make_user(name, ROLES[role])
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(user, PASSWORD)
    expect(page.locator("nav.app-nav .navbar-toggler")).to_be_hidden()
    drawn = boxes(page)
    assert len(drawn) >= 4  # brand, a link at least, user name, sign out
    # One line: every item's middle at the same height, none of them two lines high, and
    # the last ends inside the window.
    assert len({round(box["y"] + box["height"] / 2) for box in drawn}) == 1, drawn
    assert max(box["height"] for box in drawn) < 45, drawn
    assert max(box["x"] + box["width"] for box in drawn) <= 1280, drawn


def test_narrower_the_navigation_folds_behind_its_button(page, sign_in, clinician):
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(clinician, PASSWORD)
    worklist = page.locator("nav.app-nav").get_by_role("link", name="Worklist")
    expect(worklist).to_be_hidden()
    page.get_by_role("button", name="Show navigation").click()
    worklist.click()
    expect(page).to_have_url(re.compile(r"/patients/worklist/$"))
