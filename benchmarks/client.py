"""In-process requests through Django's whole stack, authenticated by token."""

from rest_framework.test import APIClient

from . import data


def api_client(user) -> APIClient:
    # DJANGO_ALLOWED_HOSTS is 127.0.0.1 for the run, as for the servers.
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Token {data.token_for(user)}")
    return client


def expect(response, status: int):
    if response.status_code != status:
        raise RuntimeError(f"{response.request['PATH_INFO']} answered {response.status_code}, not {status}")
    return response
