// The door page's calls to the JSON API: session cookie, CSRF header, and a fresh
// Idempotency-Key on every write so that a retried request is never recorded twice.
(function (door) {
  "use strict";

  function randomKey() {
    if (window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues works everywhere (e.g. plain HTTP on a LAN).
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  // Every call answers { status, body } (body: the parsed JSON, or null); a network
  // failure rejects, so callers can tell "refused" from "not reached".
  function create({ attendeesUrl, scansUrl, undoUrl, countsUrl, csrfToken }) {
    async function request(url, { method = "GET", payload } = {}) {
      const headers = { Accept: "application/json" };
      const options = { method, credentials: "same-origin", headers };
      if (method !== "GET") {
        headers["Content-Type"] = "application/json";
        headers["X-CSRFToken"] = csrfToken;
        headers["Idempotency-Key"] = randomKey();
        options.body = JSON.stringify(payload || {});
      }
      const response = await fetch(url, options);
      const body = await response.json().catch(() => null);
      return { status: response.status, body };
    }

    return {
      scan({ code, direction, event, station }) {
        const payload = { ticket_code: code, direction, station };
        if (event) {
          payload.event = Number(event);
        }
        return request(scansUrl, { method: "POST", payload });
      },
      checkIn(attendeeId, station) {
        return request(`${attendeesUrl}${attendeeId}/checkin/`, { method: "POST", payload: { station } });
      },
      checkOut(attendeeId, station) {
        return request(`${attendeesUrl}${attendeeId}/checkout/`, { method: "POST", payload: { station } });
      },
      history(attendeeId) {
        return request(`${attendeesUrl}${attendeeId}/history/`);
      },
      undo(recordId) {
        return request(undoUrl.replace("{id}", encodeURIComponent(recordId)), { method: "POST" });
      },
      search(eventId, text, pageSize) {
        const params = new URLSearchParams({ event: eventId, search: text, page_size: String(pageSize) });
        return request(`${attendeesUrl}?${params}`);
      },
      counts(eventId) {
        return request(`${countsUrl}?${new URLSearchParams({ event: eventId })}`);
      },
    };
  }

  door.api = { create };
})((window.attendeesDoor = window.attendeesDoor || {}));
