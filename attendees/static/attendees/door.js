// The door page: search attendees of an event as you type, check them in or out
// through the JSON API with the session cookie, and keep the counts up to date.
(function () {
  "use strict";

  const root = document.getElementById("door");
  if (!root) {
    return;
  }
  const attendeesUrl = root.dataset.attendeesUrl;
  const countsUrl = root.dataset.countsUrl;
  const csrfToken = root.dataset.csrfToken;

  const form = document.getElementById("door-search");
  const eventSelect = document.getElementById("door-event");
  const queryInput = document.getElementById("door-query");
  const stationInput = document.getElementById("door-station");
  const results = document.getElementById("door-results");
  const summary = document.getElementById("door-summary");
  const message = document.getElementById("door-message");
  const counts = {
    inside: document.getElementById("count-inside"),
    left: document.getElementById("count-left"),
    not_arrived: document.getElementById("count-not-arrived"),
  };

  const PAGE_SIZE = 20;
  const TYPING_PAUSE_MS = 200;
  const COUNTS_REFRESH_MS = 15000;

  // What the 409 answers' codes mean, in the words door staff use.
  const REFUSALS = {
    already_checked_in: (name) => `Already checked in. ${name} is inside; nothing was changed.`,
    already_checked_out: (name) => `Already checked out. ${name} has left; nothing was changed.`,
    not_checked_in: (name) => `Not checked in yet. ${name} has not arrived, so cannot check out; nothing was changed.`,
  };

  // The station is the same for every scan on this device: remember it.
  const STATION_KEY = "attendees.door.station";
  try {
    stationInput.value = window.localStorage.getItem(STATION_KEY) || "";
  } catch {
    // Storage may be off (private browsing); the field then starts empty.
  }
  stationInput.addEventListener("change", () => {
    try {
      window.localStorage.setItem(STATION_KEY, stationInput.value.trim());
    } catch {
      // Nothing to do: the station is still sent with each scan.
    }
  });

  let searchTimer = null;
  let searchNumber = 0;

  function fullName(attendee) {
    return `${attendee.first_name} ${attendee.last_name}`;
  }

  function stateOf(attendee) {
    if (attendee.is_checked_in) {
      return { key: "inside", label: "Inside" };
    }
    if (attendee.is_checked_out) {
      return { key: "left", label: "Left" };
    }
    return { key: "not-arrived", label: "Not arrived" };
  }

  function timeOf(isoTimes) {
    if (!isoTimes || !isoTimes.length) {
      return "";
    }
    return new Date(isoTimes[isoTimes.length - 1]).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function say(text, kind) {
    message.textContent = text;
    message.className = `message message-${kind}`;
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => null);
    return { response, body };
  }

  function refusedForAccess(response) {
    return response.status === 401 || response.status === 403;
  }

  const ACCESS_LOST = "Not allowed: you are logged out or lack the permission. Reload the page to log in again.";
  const OFFLINE = "Could not reach the server. Check the connection and try again.";

  // Rows

  function renderRow(item, attendee) {
    const state = stateOf(attendee);
    const name = fullName(attendee);
    item.dataset.attendeeId = attendee.id;
    item.dataset.state = state.key;
    item.replaceChildren();

    const who = document.createElement("div");
    who.className = "who";
    const nameLine = document.createElement("span");
    nameLine.className = "name";
    nameLine.textContent = name;
    const emailLine = document.createElement("span");
    emailLine.className = "email";
    emailLine.textContent = attendee.email;
    who.append(nameLine, emailLine);

    const badge = document.createElement("span");
    badge.className = `state state-${state.key}`;
    badge.textContent = state.label;

    const button = document.createElement("button");
    button.type = "button";
    const checkingOut = Boolean(attendee.is_checked_in);
    button.className = `action ${checkingOut ? "action-check-out" : "action-check-in"}`;
    button.dataset.action = checkingOut ? "checkout" : "checkin";
    button.textContent = checkingOut ? "Check out" : "Check in";
    button.setAttribute("aria-label", `${button.textContent} ${name}`);
    button.addEventListener("click", () => record(item, attendee, button));

    item.append(who, badge, button);
  }

  function replaceRow(item, attendee) {
    // Keep keyboard focus on the row's button when it is redrawn.
    const hadFocus = item.contains(document.activeElement);
    renderRow(item, attendee);
    if (hadFocus) {
      item.querySelector("button").focus();
    }
  }

  // Search

  function describe(count, shown, text) {
    if (count === 0) {
      return text ? `No attendee matches “${text}”.` : "This event has no attendees yet.";
    }
    const noun = count === 1 ? "attendee" : "attendees";
    const verb = count === 1 ? "matches" : "match";
    const what = text ? `${count} ${noun} ${verb} “${text}”` : `${count} ${noun}`;
    return shown < count ? `${what}; showing the first ${shown}. Type more to narrow down.` : `${what}.`;
  }

  async function search() {
    clearTimeout(searchTimer);
    const number = ++searchNumber;
    const eventId = eventSelect.value;
    const text = queryInput.value.trim();
    if (!eventId) {
      results.replaceChildren();
      summary.textContent = "Choose an event to see its attendees.";
      return;
    }
    const params = new URLSearchParams({ event: eventId, page_size: String(PAGE_SIZE) });
    if (text) {
      params.set("search", text);
    }
    results.setAttribute("aria-busy", "true");
    try {
      const { response, body } = await getJSON(`${attendeesUrl}?${params}`);
      if (number !== searchNumber) {
        return; // A newer search has started; its answer is the one to show.
      }
      if (!response.ok || !body) {
        summary.textContent = refusedForAccess(response) ? ACCESS_LOST : "The search failed. Try again.";
        return;
      }
      const items = body.results.map((attendee) => {
        const item = document.createElement("li");
        item.className = "attendee";
        renderRow(item, attendee);
        return item;
      });
      results.replaceChildren(...items);
      summary.textContent = describe(body.count, items.length, text);
    } catch {
      if (number === searchNumber) {
        summary.textContent = OFFLINE;
      }
    } finally {
      if (number === searchNumber) {
        results.removeAttribute("aria-busy");
      }
    }
  }

  function searchSoon() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, TYPING_PAUSE_MS);
  }

  // Counts

  async function refreshCounts() {
    const eventId = eventSelect.value;
    if (!eventId) {
      Object.values(counts).forEach((element) => {
        element.textContent = "–";
      });
      return;
    }
    try {
      const { response, body } = await getJSON(`${countsUrl}?${new URLSearchParams({ event: eventId })}`);
      if (response.ok && body && String(body.event) === eventSelect.value) {
        for (const [key, element] of Object.entries(counts)) {
          element.textContent = String(body[key]);
        }
      }
    } catch {
      // The next refresh tries again; the message area reports failed check-ins.
    }
  }

  // Check in / check out

  async function record(item, attendee, button) {
    if (button.getAttribute("aria-disabled") === "true") {
      return; // Still waiting for the answer to the first tap.
    }
    const action = button.dataset.action;
    const name = fullName(attendee);
    // aria-disabled rather than disabled, so that keyboard focus stays on the button.
    button.setAttribute("aria-disabled", "true");
    try {
      const response = await fetch(`${attendeesUrl}${attendee.id}/${action}/`, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify({ station: stationInput.value.trim() }),
      });
      const body = await response.json().catch(() => null);
      if (response.status === 201 && body) {
        const verb = action === "checkin" ? "Checked in" : "Checked out";
        const at = timeOf(action === "checkin" ? body.checkin_times : body.checkout_times);
        say(`${verb}: ${name}${at ? ` at ${at}` : ""}.`, "success");
        replaceRow(item, body);
      } else if (response.status === 409 && body) {
        const plain = REFUSALS[body.code];
        say(plain ? plain(name) : `Refused: ${body.detail}`, "error");
        await reload(item, attendee);
      } else if (refusedForAccess(response)) {
        say(ACCESS_LOST, "error");
      } else {
        say(`Something went wrong (error ${response.status}); nothing may have been recorded. Search again to see the state.`, "error");
      }
    } catch {
      say(OFFLINE, "error");
    } finally {
      button.removeAttribute("aria-disabled");
      refreshCounts();
    }
  }

  async function reload(item, attendee) {
    try {
      const { response, body } = await getJSON(`${attendeesUrl}${attendee.id}/`);
      if (response.ok && body) {
        replaceRow(item, body);
      }
    } catch {
      // The row keeps its old state; the message already says what happened.
    }
  }

  // Wiring

  form.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    search();
  });
  queryInput.addEventListener("input", searchSoon);
  eventSelect.addEventListener("change", () => {
    const url = new URL(window.location.href);
    if (eventSelect.value) {
      url.searchParams.set("event", eventSelect.value);
    } else {
      url.searchParams.delete("event");
    }
    window.history.replaceState(null, "", url);
    message.textContent = "";
    search();
    refreshCounts();
  });
  setInterval(() => {
    if (document.visibilityState === "visible") {
      refreshCounts();
    }
  }, COUNTS_REFRESH_MS);

  search();
  refreshCounts();
})();
