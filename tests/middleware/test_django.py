"""Django under the WSGI middleware, with ThreadlineDjangoMiddleware exposing the URL
pattern and the already-loaded user. Skipped where Django is not installed (it is
not a dependency of Threadline; the middleware never imports it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import require_module

django = require_module("django")

from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.functional import SimpleLazyObject  # noqa: E402
from werkzeug.test import Client as WSGIClient  # noqa: E402

from tests.sdk.fake_collector import FakeCollector  # noqa: E402
from threadline.middleware import WSGIMiddleware  # noqa: E402

KEY = "wk_test_0123456789abcdefghijklmn"
EVALUATED: list[bool] = []


@dataclass
class User:
    pk: int
    company_id: str
    is_authenticated: bool = True


class TokenAuth:
    """Stands in for an API auth layer (DRF-like): sets a loaded user from a header,
    else Django's lazy user, which must stay unevaluated."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request.headers.get("X-Token")
        if token:
            request.user = User(int(token), "globex")  # type: ignore[assignment]
        else:
            request.user = SimpleLazyObject(lambda: EVALUATED.append(True))  # type: ignore[assignment]
        return self.get_response(request)


def user_view(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"pk": pk})


urlpatterns = [path("users/<int:pk>/", user_view)]


@pytest.fixture(scope="module")
def django_app() -> Iterator[Any]:
    if not settings.configured:
        settings.configure(
            DEBUG=False, ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], SECRET_KEY="s" * 50,
            INSTALLED_APPS=[], DATABASES={}, USE_TZ=True,
            MIDDLEWARE=[f"{__name__}.TokenAuth",
                        "threadline.middleware.django.ThreadlineDjangoMiddleware"],
        )
        django.setup()
    from django.core.wsgi import get_wsgi_application

    yield get_wsgi_application()


def test_django_route_template_and_loaded_user(django_app: Any, collector: FakeCollector) -> None:
    mw = WSGIMiddleware(django_app, key=KEY, host=collector.url, flush_interval=0.05)
    http = WSGIClient(mw)
    assert http.get("/users/5/", headers={"X-Token": "77"}).get_json() == {"pk": 5}
    assert http.get("/users/6/").get_json() == {"pk": 6}
    assert mw.client.flush(10)
    calls = [m for m in collector.stored_messages() if m.get("event") == "API Call"]
    assert [c["properties"]["route"] for c in calls] == ["/users/<int:pk>/"] * 2
    assert calls[0]["userId"] == "77" and calls[0]["context"]["groupId"] == "globex"
    assert "userId" not in calls[1]
    assert EVALUATED == []  # the lazy user was never loaded for analytics' sake
    mw.client.shutdown()
