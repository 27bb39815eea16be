"""Use a client generated from the OpenAPI document by openapi-python-client against a
running site: list attendees, check one in, and get the 409 of a second check-in.

    python .ci/generated_client.py <client package folder> <base url> <token>

The package folder is what `openapi-python-client generate --meta none` wrote; it is
imported as `attendees_client`. Exits 1 on anything unexpected.
"""

import importlib
import sys
from pathlib import Path


def main(folder: str, base_url: str, token: str) -> None:
    package = Path(folder).resolve()
    sys.path.insert(0, str(package.parent))
    client_module = importlib.import_module(f"{package.name}.client")
    attendees_list = importlib.import_module(f"{package.name}.api.attendees.attendees_list")
    checkin = importlib.import_module(f"{package.name}.api.attendees.attendees_checkin_create")
    models = importlib.import_module(f"{package.name}.models")

    client = client_module.AuthenticatedClient(base_url=base_url, token=token, prefix="Token")
    page = attendees_list.sync(client=client, is_checked_in=False, is_checked_out=False)
    assert isinstance(page, models.PaginatedAttendeeList), page
    assert page.results, "the demo event has attendees who never arrived"
    someone = page.results[0]

    checked_in = checkin.sync_detailed(client=client, id=someone.id, body=models.AttendanceRequest(station="CI"))
    assert checked_in.status_code == 201, checked_in
    assert isinstance(checked_in.parsed, models.Attendee)
    assert checked_in.parsed.is_checked_in is True

    again = checkin.sync_detailed(client=client, id=someone.id, body=models.AttendanceRequest())
    assert again.status_code == 409, again
    assert again.parsed.code == "already_checked_in", again.parsed
    print(f"generated client: listed {page.count} attendees, checked in {someone.id}, then got 409 {again.parsed.code}")


if __name__ == "__main__":
    main(*sys.argv[1:])
