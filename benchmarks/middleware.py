"""Counts the SQL queries of a request that carries ``X-Bench-Count-Queries``."""

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse

REQUEST_HEADER = "X-Bench-Count-Queries"
RESPONSE_HEADER = "X-Bench-Queries"


class QueryCountMiddleware:
    """Answers the number of queries the request ran in ``X-Bench-Queries``; requests without
    the header (the measured load) pass through untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if REQUEST_HEADER not in request.headers:
            return self.get_response(request)
        count = 0

        def counting(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counting):
            response = self.get_response(request)
        response[RESPONSE_HEADER] = str(count)
        return response
