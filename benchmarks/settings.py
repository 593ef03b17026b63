"""The app's own settings, plus what only the benchmark needs: a bare view (benchmarks.urls)
and a per-request count of SQL queries for requests that ask for one."""

from studio.settings import *  # noqa: F403
from studio.settings import MIDDLEWARE

ROOT_URLCONF = "benchmarks.urls"
# Outermost, so that the count takes in every middleware's queries too.
MIDDLEWARE = ["benchmarks.middleware.QueryCountMiddleware", *MIDDLEWARE]
