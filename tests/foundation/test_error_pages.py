"""With DEBUG off, 403/404/500 are pages of the platform: localised, with a way back."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from casehub.api.errors import server_error


@pytest.fixture(autouse=True)
def debug_off(settings):
    settings.DEBUG = False


@pytest.mark.parametrize("language, title, back", [("zh-hans", "页面不存在", "返回首页"),
                                                   ("en", "Page not found", "Back to the home page")])
def test_unknown_page_is_a_localised_404_with_the_navigation(client, district, language, title, back):
    client.force_login(district.investigator)
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=language)
    page = response.content.decode()
    assert response.status_code == 404 and title in page and back in page
    assert 'id="main-nav"' in page and 'data-nav="cases:list"' in page
    assert f'<html lang="{language}">' in page


@pytest.mark.parametrize("language, title", [("zh-hans", "无权操作"), ("en", "Not permitted")])
def test_a_forbidden_page_is_a_localised_403_with_the_navigation(client, district, language, title):
    client.force_login(district.investigator)  # investigators have no metrics
    response = client.get(reverse("metrics:dashboard"), HTTP_ACCEPT_LANGUAGE=language)
    page = response.content.decode()
    assert response.status_code == 403 and title in page and 'id="main-nav"' in page


@pytest.mark.parametrize("language, title", [("zh-hans", "服务器内部错误"), ("en", "Server error")])
def test_a_server_error_in_the_ui_is_a_localised_page_with_a_way_home(language, title):
    with translation.override(language):
        response = server_error(RequestFactory().get("/cases/"))
    page = response.content.decode()
    assert response.status_code == 500 and title in page and 'href="/"' in page
    assert f'<html lang="{language}">' in page
