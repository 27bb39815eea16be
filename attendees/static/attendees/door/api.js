// The door page's calls to the JSON API: session cookie, CSRF header, and a fresh
// Idempotency-Key on every write so that a retried request is never recorded twice.
(function (door) {
  "use strict";

  // A server that has not answered within this time counts as out of reach: the door
  // goes on offline rather than keep people waiting.
  const ANSWER_WITHIN_MS = 3000;
  // The roster and the upload of the scans made offline may take longer (a whole event,
  // up to 500 scans); neither is waited for by anyone, and a batch sent again is harmless.
  const LONG_ANSWER_WITHIN_MS = 30000;

  function randomKey() {
    if (window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues works everywhere (e.g. plain HTTP on a LAN).
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  // Raised when the server could not be reached or did not answer in time.
  class Unreachable extends Error {
    constructor(cause) {
      super("unreachable");
      this.name = "Unreachable";
      this.cause = cause;
    }
  }

  // Every call answers { status, body } (body: the parsed JSON, or null); a network
  // failure or no answer in time rejects with Unreachable, so callers can tell
  // "refused" from "not reached".
  function create({ attendeesUrl, scansUrl, batchUrl, rosterUrl, undoUrl, countsUrl, csrfToken }) {
    async function request(url, { method = "GET", payload, within = ANSWER_WITHIN_MS } = {}) {
      const headers = { Accept: "application/json" };
      const controller = new AbortController();
      const options = { method, credentials: "same-origin", headers, signal: controller.signal };
      if (method !== "GET") {
        headers["Content-Type"] = "application/json";
        headers["X-CSRFToken"] = csrfToken;
        headers["Idempotency-Key"] = randomKey();
        options.body = JSON.stringify(payload || {});
      }
      const timer = setTimeout(() => controller.abort(), within);
      try {
        const response = await fetch(url, options);
        const body = await response.json().catch(() => null);
        return { status: response.status, body };
      } catch (error) {
        throw new Unreachable(error);
      } finally {
        clearTimeout(timer);
      }
    }

    function withPlace(payload, { area, overrideCapacity }) {
      if (area) {
        payload.area = Number(area);
      }
      if (overrideCapacity) {
        payload.override_capacity = true;
      }
      return payload;
    }

    return {
      scan({ code, direction, event, station, area, overrideCapacity }) {
        const payload = withPlace({ ticket_code: code, direction, station }, { area, overrideCapacity });
        if (event) {
          payload.event = Number(event);
        }
        return request(scansUrl, { method: "POST", payload });
      },
      checkIn(attendeeId, { station, area, overrideCapacity }) {
        const payload = withPlace({ station }, { area, overrideCapacity });
        return request(`${attendeesUrl}${attendeeId}/checkin/`, { method: "POST", payload });
      },
      checkOut(attendeeId, { station, area }) {
        const payload = withPlace({ station }, { area });
        return request(`${attendeesUrl}${attendeeId}/checkout/`, { method: "POST", payload });
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
      counts(eventId, areaId) {
        const params = new URLSearchParams({ event: eventId });
        if (areaId) {
          params.set("area", areaId);
        }
        return request(`${countsUrl}?${params}`);
      },
      roster(eventId) {
        return request(rosterUrl.replace("{id}", encodeURIComponent(eventId)), { within: LONG_ANSWER_WITHIN_MS });
      },
      uploadScans(scans) {
        return request(batchUrl, { method: "POST", payload: { scans }, within: LONG_ANSWER_WITHIN_MS });
      },
    };
  }

  door.api = { create, Unreachable, randomKey, ANSWER_WITHIN_MS };
})((window.attendeesDoor = window.attendeesDoor || {}));
