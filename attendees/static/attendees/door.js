// The door page, scan-first: one input that a barcode scanner types into and where
// people type names, the camera, the mode, the area, and the latest result. Online, what
// is on screen comes from the server's answer; when the server cannot be reached it
// comes from the event's roster on this device and the queue of scans saved offline,
// which go up once the server is back. This file keeps the page's state and wires the
// parts together (door/api.js, door/render.js, door/store.js, door/roster.js,
// door/queue.js, door/scanner.js, door/camera.js).
(function (door) {
  "use strict";

  const root = document.getElementById("door");
  if (!root) {
    return;
  }
  const { t, tn, fullName, clock, zoneOf, latest } = door.render;
  const { Unreachable } = door.api;

  const eventSelect = document.getElementById("door-event");
  const areaSelect = document.getElementById("door-area");
  const areaSetting = areaSelect.closest(".setting");
  const wholeEvent = areaSelect.options[0];
  const stationInput = document.getElementById("door-station");
  const queryInput = document.getElementById("door-query");
  const list = document.getElementById("door-results");
  const summary = document.getElementById("door-summary");
  const modeButtons = Array.from(document.querySelectorAll(".mode[data-mode]"));
  const cameraButton = document.getElementById("door-camera");
  const cameraView = document.getElementById("door-camera-view");
  const cameraStatus = document.getElementById("door-camera-status");
  const undoButton = document.getElementById("door-undo");
  // Only on the page of those allowed to admit over capacity.
  const overrideButton = document.getElementById("door-override");
  const connectionBanner = document.getElementById("door-connection");
  const refusedSection = document.getElementById("door-refused");
  const refusedList = document.getElementById("door-refused-list");
  const rosterStatus = document.getElementById("door-roster");
  const placeElement = document.getElementById("door-place");
  const countElements = {
    inside: document.getElementById("count-inside"),
    left: document.getElementById("count-left"),
    never_arrived: document.getElementById("count-not-arrived"),
  };
  const AREAS = JSON.parse(document.getElementById("door-areas").textContent);

  const api = door.api.create({
    attendeesUrl: root.dataset.attendeesUrl,
    scansUrl: root.dataset.scansUrl,
    batchUrl: root.dataset.batchUrl,
    rosterUrl: root.dataset.rosterUrl,
    undoUrl: root.dataset.undoUrl,
    countsUrl: root.dataset.countsUrl,
    csrfToken: root.dataset.csrfToken,
  });
  const username = root.dataset.username;

  const PAGE_SIZE = 20;
  // Counts are refreshed, and scans saved offline are sent, this often.
  const HEARTBEAT_MS = 10000;
  const ROSTER_REFRESH_MS = 60000;
  // How long the banner says that the scans saved offline were sent.
  const SENT_SHOWN_MS = 10000;
  // A second scan or tap of someone within this time of a success shows that success
  // again and sends nothing, so it can never reverse it.
  const REPEAT_MS = 2000;
  const UNDO_MS = 2 * 60 * 1000;
  const MODES = ["in", "out", "auto"];
  // Answers that mean the server is there but cannot record now (its database is down,
  // or a proxy in front of it gets no answer): the scan is saved offline like any other.
  const NOT_RECORDING = new Set([502, 503, 504]);

  // Settings remembered on this device.
  const STORED = {
    event: "attendees.door.event",
    area: "attendees.door.area",
    station: "attendees.door.station",
    mode: "attendees.door.mode",
  };

  function remembered(key) {
    try {
      return window.localStorage.getItem(STORED[key]) || "";
    } catch {
      return ""; // Storage may be off (private browsing); the page then starts from its defaults.
    }
  }

  function remember(key, value) {
    try {
      window.localStorage.setItem(STORED[key], value);
    } catch {
      // Not remembered; the setting still holds until the page is closed.
    }
  }

  // The page's state, in one place.
  const state = {
    mode: "in",
    search: { text: "", results: [], count: 0, pending: null },
    searchNumber: 0,
    // The keys ("code:…", "attendee:…") of requests on their way, and of the latest success.
    inFlight: new Set(),
    lastSuccess: null,
    // Whether the server answered the latest request; the browser's own idea of being
    // online is asked too.
    reachable: navigator.onLine,
    // The status of an upload of saved scans that the server did not take, if any.
    uploadProblem: null,
    // What the latest upload that emptied the queue sent: { sent, refused }, for a while.
    uploaded: null,
  };

  const feedback = door.render.createFeedback();
  const panel = door.render.createResultPanel({
    panel: document.getElementById("door-result"),
    text: document.getElementById("door-message"),
    undoButton,
    overrideButton,
    feedback,
    onShown: focusInput,
  });
  const roster = door.roster.create({ store: door.store });
  const queue = door.queue.create({ store: door.store, api, onChange: showConnection });

  // The input holds the focus after every result, unless door staff are busy with the
  // settings at the top.
  function focusInput() {
    const active = document.activeElement;
    if (active === eventSelect || active === areaSelect || active === stationInput) {
      return;
    }
    queryInput.focus({ preventScroll: true });
  }

  // Mode

  function setMode(mode) {
    state.mode = MODES.includes(mode) ? mode : "in";
    root.dataset.mode = state.mode;
    for (const button of modeButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.mode === state.mode));
    }
    remember("mode", state.mode);
    redrawRows();
  }

  // What a tap or Enter on an attendee does in the current mode.
  function actionFor(attendee) {
    if (state.mode === "in") {
      return "checkin";
    }
    if (state.mode === "out") {
      return "checkout";
    }
    const area = chosenArea();
    const here = area === null ? attendee.is_checked_in : attendee.area === area;
    return here ? "checkout" : "checkin";
  }

  // Area: the place inside the event that this door scans for, or the whole event.

  function areasOf(eventId) {
    return AREAS.filter((area) => String(area.event) === String(eventId));
  }

  function fillAreas() {
    const areas = areasOf(eventSelect.value);
    areaSelect.replaceChildren(
      wholeEvent,
      ...areas.map((area) => {
        const option = document.createElement("option");
        option.value = String(area.id);
        option.textContent = area.name;
        return option;
      }),
    );
    const wanted = remembered("area");
    areaSelect.value = areas.some((area) => String(area.id) === wanted) ? wanted : "";
    areaSetting.hidden = areas.length === 0;
    root.classList.toggle("has-areas", areas.length > 0);
  }

  function chosenArea() {
    return areaSelect.value ? Number(areaSelect.value) : null;
  }

  function capacities() {
    const event = eventSelect.selectedOptions[0];
    const area = AREAS.find((candidate) => candidate.id === chosenArea());
    return {
      event: event && event.dataset.capacity ? Number(event.dataset.capacity) : null,
      area: area ? area.capacity : null,
    };
  }

  function placeName(kind = chosenArea() === null ? "event" : "area") {
    if (kind === "area") {
      return areaSelect.selectedOptions[0].textContent;
    }
    return eventSelect.selectedOptions[0].textContent;
  }

  // Results

  function successView({ result, attendee, record, keys }) {
    const checkedIn = result === "checked_in";
    const at = record ? record.at : latest(checkedIn ? attendee.checkin_times : attendee.checkout_times);
    const station = record ? record.station : stationInput.value.trim();
    const zone = zoneOf(attendee.event === undefined ? eventSelect.value : attendee.event);
    const view = {
      kind: checkedIn ? "checked-in" : "checked-out",
      title: checkedIn ? t("Checked in") : t("Checked out"),
      name: fullName(attendee),
      detail: station ? t("%(time)s, %(station)s", { time: clock(at, zone), station }) : clock(at, zone),
      attendeeId: attendee.id,
      recordType: checkedIn ? "check_in" : "check_out",
      record: record || null,
      undo: { until: Date.now() + UNDO_MS, busy: !record },
      override: null,
    };
    state.lastSuccess = { keys: new Set(keys), at: Date.now(), view };
    return view;
  }

  function refusalView(title, { name = "", detail = "" } = {}) {
    return { kind: "refused", title, name, detail, undo: null, override: null };
  }

  // A 409 from the server. A full place is said as such, and those allowed to may admit
  // the attendee anyway: `retry` sends the same request again with override_capacity.
  function conflictView(body, name, retry) {
    if (body.code === "capacity_reached") {
      const view = refusalView(t("Full"), { name, detail: body.detail });
      view.override = overrideButton ? { busy: false, retry } : null;
      return view;
    }
    return refusalView(t("Refused"), { name, detail: body.detail });
  }

  function problemView(status, body) {
    if (status === 401 || status === 403) {
      return refusalView(t("Not allowed"), {
        detail: t("You are signed out or lack the permission. Reload the page to sign in again."),
      });
    }
    if (status === 400 && body) {
      return refusalView(t("Not a ticket code"), { detail: t("Check the code and scan again.") });
    }
    return refusalView(t("Something went wrong"), {
      detail: t("Error %(status)s: nothing may have been recorded. Scan again to see the state.", { status }),
    });
  }

  function unreachableView() {
    return refusalView(t("Not sent"), {
      detail: t("Could not reach the server. Check the connection and scan again."),
    });
  }

  function repeatOf(keys) {
    const last = state.lastSuccess;
    if (last && Date.now() - last.at < REPEAT_MS && keys.some((key) => last.keys.has(key))) {
      return last.view;
    }
    return null;
  }

  // True when the request may go: nothing for these keys on its way, no success to repeat.
  function mayGo(keys) {
    if (keys.some((key) => state.inFlight.has(key))) {
      return false; // The first one's answer is about to show.
    }
    const repeat = repeatOf(keys);
    if (repeat) {
      panel.show(repeat, { repeat: true });
      return false;
    }
    return true;
  }

  function needsEvent() {
    if (eventSelect.value) {
      return false;
    }
    panel.show(refusalView(t("Choose the event first"), { detail: t("Pick the event at the top, then scan.") }));
    eventSelect.focus();
    return true;
  }

  // Online or offline

  function isOffline() {
    return !state.reachable || !navigator.onLine;
  }

  // True while the roster on this device, not the server, tells the state: offline, and
  // while saved scans wait to go up (the server does not know them yet).
  function usesRoster() {
    return isOffline() || queue.size() > 0;
  }

  function setReachable(reachable) {
    if (state.reachable === reachable) {
      return;
    }
    state.reachable = reachable;
    showConnection();
    if (reachable) {
      heartbeat();
    } else {
      refreshCounts();
    }
  }

  function wait(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // Whether a scan is to be saved offline rather than sent: when the server is out of
  // reach, and while earlier saved scans have not gone up (scans reach the server in the
  // order they were made), unless sending those takes no more than a moment.
  async function mustSaveOffline() {
    if (isOffline()) {
      return true;
    }
    if (queue.size() === 0) {
      return false;
    }
    await Promise.race([upload(), wait(door.api.ANSWER_WITHIN_MS)]);
    return isOffline() || queue.size() > 0;
  }

  // One recording request of the door: kept on this device instead whenever the server
  // cannot record it (offline, unreachable, or answering that it cannot record now);
  // otherwise `show(status, body)` shows the answer, or says it was not one it knows.
  // Whatever happens, the request's key is freed and the counts are read again.
  async function record(keys, offlineScan, send, show) {
    state.inFlight.add(keys[0]);
    try {
      if (await mustSaveOffline()) {
        await saveOffline(offlineScan);
        return;
      }
      let answer;
      try {
        answer = await send();
      } catch (error) {
        if (!(error instanceof Unreachable)) {
          throw error;
        }
        setReachable(false);
        await saveOffline(offlineScan);
        return;
      }
      const { status, body } = answer;
      if (NOT_RECORDING.has(status)) {
        setReachable(false);
        await saveOffline(offlineScan);
        return;
      }
      setReachable(true);
      if (!show(status, body)) {
        panel.show(problemView(status, body));
      }
    } catch {
      panel.show(notSavedView());
    } finally {
      state.inFlight.delete(keys[0]);
      refreshCounts();
    }
  }

  // Scanning a ticket code (barcode scanner or camera)

  async function scanCode(code, { overrideCapacity = false } = {}) {
    if (needsEvent()) {
      return;
    }
    const keys = [`code:${code}`];
    if (!mayGo(keys)) {
      return;
    }
    const send = () =>
      api.scan({
        code,
        direction: state.mode,
        event: eventSelect.value,
        station: stationInput.value.trim(),
        area: areaSelect.value,
        overrideCapacity,
      });
    await record(keys, { code, mode: state.mode, keys }, send, (status, body) => {
      if (status === 201 && body) {
        const view = successView({ ...body, keys: [...keys, `attendee:${body.attendee.id}`] });
        panel.show(view);
        learn(body.attendee);
      } else if (status === 404 && body) {
        panel.show(refusalView(t("Unknown ticket"), { detail: t("No attendee has this ticket. Try the name.") }));
      } else if (status === 409 && body) {
        const name = body.attendee ? fullName(body.attendee) : "";
        panel.show(conflictView(body, name, () => scanCode(code, { overrideCapacity: true })));
        if (body.attendee) {
          learn(body.attendee);
        }
      } else {
        return false;
      }
      return true;
    });
  }

  // Checking in or out an attendee found by name

  async function actOn(attendee, action = actionFor(attendee), { overrideCapacity = false } = {}) {
    if (needsEvent()) {
      return;
    }
    const keys = [`attendee:${attendee.id}`];
    if (!mayGo(keys)) {
      return;
    }
    const station = stationInput.value.trim();
    const mode = action === "checkout" ? "out" : "in";
    const call = action === "checkout" ? api.checkOut : api.checkIn;
    const send = () => call(attendee.id, { station, area: areaSelect.value, overrideCapacity });
    await record(keys, { attendee, mode, keys }, send, (status, body) => {
      if (status === 201 && body) {
        const result = action === "checkout" ? "checked_out" : "checked_in";
        const view = successView({ result, attendee: body, record: null, keys });
        panel.show(view);
        learn(body);
        findUndoableRecord(view);
      } else if (status === 409 && body) {
        panel.show(conflictView(body, fullName(attendee), () => actOn(attendee, action, { overrideCapacity: true })));
        reloadRow(attendee.id);
      } else {
        return false;
      }
      return true;
    });
  }

  // Saving a scan or a tap offline: looked up in the roster, shown, applied to the roster
  // when the rules allow it, and queued in any case, since the server decides.

  function notSavedView() {
    return refusalView(t("Not saved"), {
      detail: t("Could not reach the server, and this browser could not keep the scan. Scan again."),
    });
  }

  function localReason({ refusal, place }, area) {
    const areaName = area === null ? "" : placeName("area");
    switch (refusal) {
      case "unknown_ticket":
        return t("This ticket is not on this device's list of attendees.");
      case "already_checked_in":
        return area === null ? t("Already inside.") : t("Already in %(area)s.", { area: areaName });
      case "not_checked_in":
        return area === null ? t("Not inside.") : t("Not in %(area)s.", { area: areaName });
      case "already_checked_out":
        return t("Already left.");
      case "capacity_reached":
        return t("%(place)s is full: %(inside)s inside, capacity %(capacity)s.", {
          place: placeName(place.kind),
          inside: place.inside,
          capacity: place.capacity,
        });
      default:
        return "";
    }
  }

  function offlineView(scan, decision, person, keys) {
    const waitForServer = t("Saved offline: the server decides once the connection is back.");
    // Scans the device could not check: saved all the same, for the server to decide.
    const unchecked = {
      no_roster: () =>
        t("This device has no list of this event's attendees yet: the server decides once the connection is back."),
      not_on_roster: () =>
        t("This attendee is not on this device's list yet: the server decides once the connection is back."),
      unchecked: () =>
        t("This device cannot check tickets offline without HTTPS: the server decides once the connection is back."),
    }[decision.refusal];
    if (unchecked) {
      return {
        kind: "notice",
        offline: true,
        title: t("Saved offline"),
        name: scan.name,
        detail: unchecked(),
        undo: null,
        override: null,
      };
    }
    if (decision.refusal) {
      const titles = { unknown_ticket: () => t("Unknown ticket"), capacity_reached: () => t("Full") };
      const title = decision.refusal in titles ? titles[decision.refusal]() : t("Refused");
      const view = refusalView(title, {
        name: scan.name,
        detail: `${localReason(decision, scan.area)} ${waitForServer}`,
      });
      view.offline = true;
      return view;
    }
    const checkedIn = decision.direction === "in";
    const time = clock(scan.at, zoneOf(scan.event));
    let detail;
    if (checkedIn) {
      detail = scan.station
        ? t("Checked in at %(time)s, %(station)s", { time, station: scan.station })
        : t("Checked in at %(time)s", { time });
    } else {
      detail = scan.station
        ? t("Checked out at %(time)s, %(station)s", { time, station: scan.station })
        : t("Checked out at %(time)s", { time });
    }
    const view = {
      kind: checkedIn ? "checked-in" : "checked-out",
      offline: true,
      title: t("Saved offline"),
      name: scan.name,
      detail,
      undo: null,
      override: null,
    };
    state.lastSuccess = { keys: new Set([...keys, `attendee:${person.id}`]), at: Date.now(), view };
    return view;
  }

  async function saveOffline({ code = null, attendee = null, mode, keys }) {
    const eventId = Number(eventSelect.value);
    const area = chosenArea();
    await roster.ready(eventId);
    const person = code ? await roster.findByCode(code) : roster.findById(attendee.id);
    const decision =
      !code && person === null
        ? { direction: mode, refusal: "not_on_roster" } // Found by the server after the roster was read.
        : roster.decideFor(person, { mode, area, capacities: capacities() });
    const scan = {
      nonce: door.api.randomKey(),
      at: new Date().toISOString(),
      event: eventId,
      station: stationInput.value.trim(),
      area,
      direction: decision.direction,
      name: person ? fullName(person) : attendee ? fullName(attendee) : "",
      // The attendee whose state on this device the scan changed, if it did.
      applied: decision.refusal ? null : person.id,
    };
    if (code) {
      scan.ticket_code = code;
    } else {
      scan.attendee = attendee.id;
    }
    await queue.add(scan);
    if (!decision.refusal) {
      await roster.applyScan(person, { direction: decision.direction, area });
    }
    panel.show(offlineView(scan, decision, person, keys));
    if (person) {
      updateRow(roster.asAttendee(person));
    }
  }

  // An attendee as the server answered: their row, and the roster on this device.
  function learn(attendee) {
    updateRow(attendee);
    roster.learn(attendee).catch(() => {});
  }

  // A check-in or check-out by name answers the attendee, not the record; the record
  // to undo is this user's latest of that kind in the attendee's history.
  async function findUndoableRecord(view) {
    try {
      const { status, body } = await api.history(view.attendeeId);
      const records = status === 200 && Array.isArray(body) ? body : [];
      const mine = records
        .filter((record) => !record.voided && record.type === view.recordType && record.recorded_by === username)
        .pop();
      if (mine) {
        view.record = mine;
        view.undo.busy = false;
      } else {
        view.undo = null;
      }
    } catch {
      view.undo = null;
    }
    if (panel.current() === view) {
      panel.refreshUndo();
    }
  }

  async function undo() {
    const view = panel.current();
    if (!view || !view.undo || view.undo.busy || !view.record) {
      return;
    }
    view.undo.busy = true;
    panel.refreshUndo();
    try {
      const { status, body } = await api.undo(view.record.id);
      if (status === 201) {
        if (state.lastSuccess && state.lastSuccess.view === view) {
          state.lastSuccess = null;
        }
        view.undo = null;
        panel.refreshUndo();
        panel.show({
          kind: "undone",
          title: t("Undone"),
          name: view.name,
          detail: view.kind === "checked-in" ? t("The check-in was taken back.") : t("The check-out was taken back."),
          undo: null,
          override: null,
        });
        reloadRow(view.attendeeId);
      } else {
        view.undo = null;
        const detail = body && body.detail ? body.detail : t("Error %(status)s.", { status });
        panel.show(refusalView(t("Could not undo"), { name: view.name, detail }));
      }
    } catch {
      view.undo.busy = false;
      panel.show(unreachableView());
    } finally {
      refreshCounts();
    }
  }

  async function admitAnyway() {
    const view = panel.current();
    if (!view || !view.override || view.override.busy) {
      return;
    }
    view.override.busy = true;
    panel.refreshUndo();
    await view.override.retry();
  }

  // Searching names: through the server, or over the roster on this device.

  async function search(text) {
    const number = ++state.searchNumber;
    const eventId = eventSelect.value;
    if (!text || !eventId) {
      showMatches(text, [], 0);
      return state.search;
    }
    list.setAttribute("aria-busy", "true");
    const pending = (async () => {
      try {
        if (usesRoster()) {
          return await searchRoster(text, eventId, number);
        }
        const { status, body } = await api.search(eventId, text, PAGE_SIZE);
        if (number !== state.searchNumber) {
          return null; // A newer search has started; its answer is the one to show.
        }
        setReachable(!NOT_RECORDING.has(status));
        if (status === 200 && body) {
          showMatches(text, body.results, body.count);
        } else if (NOT_RECORDING.has(status)) {
          return await searchRoster(text, eventId, number);
        } else {
          summary.textContent =
            status === 401 || status === 403
              ? t("Not allowed: reload the page to sign in again.")
              : t("The search failed. Try again.");
        }
      } catch (error) {
        if (error instanceof Unreachable) {
          setReachable(false);
          return await searchRoster(text, eventId, number);
        }
        if (number === state.searchNumber) {
          summary.textContent = t("The search failed. Try again.");
        }
      } finally {
        if (number === state.searchNumber) {
          list.removeAttribute("aria-busy");
          state.search.pending = null;
        }
      }
      return state.search;
    })();
    state.search.pending = { text, promise: pending };
    return pending;
  }

  async function searchRoster(text, eventId, number) {
    const known = await roster.ready(eventId);
    if (number !== state.searchNumber) {
      return null;
    }
    const found = roster.search(text, PAGE_SIZE);
    showMatches(text, found.results, found.count);
    if (!known) {
      summary.textContent = t("Offline, and this device has no list of this event's attendees to search.");
    }
    return state.search;
  }

  function showMatches(text, results, count) {
    state.search = { text, results, count, pending: null };
    list.replaceChildren(
      ...results.map((attendee) => {
        const item = document.createElement("li");
        door.render.renderRow(item, attendee, { action: actionFor(attendee), onAct: actOn });
        return item;
      }),
    );
    summary.textContent = text ? door.render.describeMatches(count, results.length, text) : "";
    panel.setCompact(Boolean(text));
  }

  function redrawRows() {
    for (const item of list.children) {
      const attendee = state.search.results.find((found) => String(found.id) === item.dataset.attendeeId);
      if (attendee) {
        door.render.renderRow(item, attendee, { action: actionFor(attendee), onAct: actOn });
      }
    }
  }

  function updateRow(attendee) {
    const index = state.search.results.findIndex((found) => found.id === attendee.id);
    if (index === -1) {
      return;
    }
    state.search.results[index] = attendee;
    const item = list.querySelector(`li[data-attendee-id="${attendee.id}"]`);
    if (item) {
      door.render.renderRow(item, attendee, { action: actionFor(attendee), onAct: actOn });
    }
  }

  async function reloadRow(attendeeId) {
    if (!state.search.results.some((found) => found.id === attendeeId)) {
      return;
    }
    try {
      const { status, body } = await api.search(eventSelect.value, state.search.text, PAGE_SIZE);
      const fresh = status === 200 && body ? body.results.find((found) => found.id === attendeeId) : null;
      if (fresh) {
        learn(fresh);
      }
    } catch {
      // The row keeps its old state; the result on screen says what happened.
    }
  }

  // The input: Enter scans a code, or acts on the one attendee whose name matches.

  async function entered(text) {
    let found = state.search;
    if (found.pending && found.pending.text === text) {
      found = (await found.pending.promise) || state.search;
    }
    if (found.text === text && found.count === 1 && found.results.length === 1) {
      clearQuery();
      actOn(found.results[0]);
      return;
    }
    if (found.text === text && found.count > 1) {
      return; // Names are listed for this text: door staff pick one.
    }
    if (door.scanner.mayBeTicketCode(text)) {
      clearQuery();
      scanCode(text);
      return;
    }
    // A name typed faster than the search: search now, and act if exactly one matches.
    found = await search(text);
    if (queryInput.value.trim() === text && found.text === text && found.count === 1 && found.results.length === 1) {
      clearQuery();
      actOn(found.results[0]);
    }
  }

  // After a scan the input is empty again, ready for the next ticket.
  function clearQuery() {
    scanner.clear();
    state.searchNumber += 1;
    list.removeAttribute("aria-busy");
    showMatches("", [], 0);
  }

  const scanner = door.scanner.attach({
    form: document.getElementById("door-scan"),
    input: queryInput,
    onTyping: search,
    onEnter: entered,
  });
  queryInput.addEventListener("input", () => {
    if (!queryInput.value.trim()) {
      clearQuery();
    }
  });

  // The camera

  function cameraCode(code) {
    const text = code.trim();
    if (door.scanner.mayBeTicketCode(text)) {
      scanCode(text);
    } else {
      panel.show(refusalView(t("Not a ticket"), { detail: t("This QR code holds no ticket code.") }));
    }
  }

  const videoElement = document.getElementById("door-video");
  const camera = door.camera.create({
    video: videoElement,
    jsQRUrl: root.dataset.jsqrUrl,
    onCode: cameraCode,
    onStatus: (text) => {
      cameraStatus.textContent = text;
    },
  });

  function showCameraControls(on) {
    cameraView.hidden = !on && !cameraStatus.textContent;
    videoElement.hidden = !on;
    root.classList.toggle("camera-on", on);
    cameraButton.querySelector(".camera-button-text").textContent = on ? t("Stop camera") : t("Scan with camera");
  }

  cameraButton.addEventListener("click", async () => {
    if (camera.isOn()) {
      camera.stop();
      showCameraControls(false);
      focusInput();
      return;
    }
    showCameraControls(true);
    await camera.start();
    if (!camera.isOn()) {
      showCameraControls(false); // Refused, missing, or stopped while starting.
    }
    focusInput();
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden" && camera.isOn()) {
      camera.stop(); // Frees the camera for other apps; one tap starts it again.
      showCameraControls(false);
    }
  });

  // Counts: the server's, or the roster's while it tells the state.

  function showRosterCounts() {
    const known = roster.current();
    if (!known || String(known.event) !== eventSelect.value) {
      door.render.renderCounts(countElements, null);
      door.render.renderPlace(placeElement, null);
      return;
    }
    door.render.renderCounts(countElements, roster.counts());
    const area = chosenArea();
    const limits = capacities();
    const inside = roster.placeCounts(area, limits);
    door.render.renderPlace(placeElement, {
      area,
      name: placeName(),
      inside: area === null ? inside.event.inside : inside.area.inside,
      capacity: area === null ? limits.event : limits.area,
    });
  }

  async function refreshCounts() {
    const eventId = eventSelect.value;
    const areaId = areaSelect.value;
    if (!eventId) {
      door.render.renderCounts(countElements, null);
      door.render.renderPlace(placeElement, null);
      return;
    }
    if (usesRoster()) {
      showRosterCounts();
    }
    if (!navigator.onLine || queue.size() > 0) {
      return;
    }
    try {
      const { status, body } = await api.counts(eventId, areaId);
      setReachable(!NOT_RECORDING.has(status));
      const current = String(body && body.event) === eventSelect.value && areaSelect.value === areaId;
      if (status === 200 && body && current && !usesRoster()) {
        door.render.renderCounts(countElements, body);
        door.render.renderPlace(placeElement, body.place || null);
      }
    } catch (error) {
      if (error instanceof Unreachable) {
        setReachable(false);
      }
    }
  }

  // The roster on this device, and the scans saved offline

  function showRoster() {
    rosterStatus.textContent = roster.describe();
  }

  async function refreshRoster() {
    const eventId = eventSelect.value;
    if (!eventId || !navigator.onLine) {
      return;
    }
    try {
      const { status, body } = await api.roster(eventId);
      setReachable(!NOT_RECORDING.has(status));
      if (status === 200 && body && String(body.event) === eventSelect.value) {
        await roster.replace(body, await queue.waiting());
        showRoster();
        if (usesRoster()) {
          showRosterCounts();
        }
      }
    } catch (error) {
      if (error instanceof Unreachable) {
        setReachable(false);
      }
      // Otherwise the device has no room for it: the door works online all the same.
    }
  }

  function showConnection() {
    const waiting = queue.size();
    let text = "";
    let kind = "";
    if (isOffline()) {
      kind = "offline";
      text = tn("Offline: %(count)s scan waiting", "Offline: %(count)s scans waiting", waiting);
    } else if (waiting && state.uploadProblem) {
      kind = "problem";
      const status = state.uploadProblem;
      text =
        status === 401 || status === 403
          ? tn(
              "%(count)s scan waiting: the server did not take it. Reload the page to sign in again.",
              "%(count)s scans waiting: the server did not take them. Reload the page to sign in again.",
              waiting,
            )
          : tn(
              "%(count)s scan waiting: the server did not take it (error %(status)s). It is sent again shortly.",
              "%(count)s scans waiting: the server did not take them (error %(status)s). They are sent again shortly.",
              waiting,
              { status },
            );
    } else if (waiting) {
      kind = "sending";
      text = tn("Sending %(count)s scan saved offline…", "Sending %(count)s scans saved offline…", waiting);
    } else if (state.uploaded) {
      kind = "sent";
      const { sent, refused } = state.uploaded;
      text = tn("%(count)s scan saved offline was sent.", "%(count)s scans saved offline were sent.", sent);
      if (refused) {
        text += ` ${tn("%(count)s was refused: see the list below.", "%(count)s were refused: see the list below.", refused)}`;
      }
    }
    if (connectionBanner.textContent !== text) {
      connectionBanner.textContent = text;
    }
    connectionBanner.hidden = !text;
    connectionBanner.dataset.kind = kind;
    root.classList.toggle("offline", isOffline());
  }

  async function showRefusals() {
    try {
      const refusals = await door.store.refusals();
      door.render.renderRefused(refusedList, refusals);
      refusedSection.hidden = refusals.length === 0;
    } catch {
      refusedSection.hidden = true;
    }
  }

  async function upload() {
    if (queue.size() === 0 || !navigator.onLine) {
      return;
    }
    let result;
    try {
      result = await queue.upload();
    } catch {
      return; // The device's storage failed; the scans stay where they are.
    }
    if (result.outcome === "unreachable") {
      setReachable(false);
      return;
    }
    state.uploadProblem = result.outcome === "problem" ? result.status : null;
    if (result.outcome === "done" && result.sent) {
      const uploaded = { sent: result.sent, refused: result.refused };
      state.uploaded = uploaded;
      setTimeout(() => {
        if (state.uploaded === uploaded) {
          state.uploaded = null;
          showConnection();
        }
      }, SENT_SHOWN_MS);
    }
    setReachable(!NOT_RECORDING.has(result.status));
    showConnection();
    if (result.refused) {
      showRefusals();
    }
    if (result.outcome === "done") {
      await refreshRoster();
      refreshCounts();
    }
  }

  // Every few seconds: send what waits, and see whether the server is back.
  async function heartbeat() {
    if (document.visibilityState === "hidden" && queue.size() === 0) {
      return;
    }
    await upload();
    refreshCounts();
  }

  // Wiring

  function eventChosen() {
    const url = new URL(window.location.href);
    if (eventSelect.value) {
      url.searchParams.set("event", eventSelect.value);
    } else {
      url.searchParams.delete("event");
    }
    window.history.replaceState(null, "", url);
    remember("event", eventSelect.value);
    state.lastSuccess = null;
    fillAreas();
    roster.load(eventSelect.value).then(() => {
      showRoster();
      refreshCounts();
      search(queryInput.value.trim());
      refreshRoster();
    });
  }

  eventSelect.addEventListener("change", eventChosen);
  areaSelect.addEventListener("change", () => {
    remember("area", areaSelect.value);
    state.lastSuccess = null;
    redrawRows();
    refreshCounts();
  });
  stationInput.addEventListener("change", () => remember("station", stationInput.value.trim()));
  stationInput.addEventListener("keydown", (keyEvent) => {
    if (keyEvent.key === "Enter") {
      remember("station", stationInput.value.trim());
      queryInput.focus();
    }
  });
  for (const button of modeButtons) {
    button.addEventListener("click", () => {
      setMode(button.dataset.mode);
      focusInput();
    });
  }
  undoButton.addEventListener("click", async () => {
    await undo();
    focusInput();
  });
  if (overrideButton) {
    overrideButton.addEventListener("click", async () => {
      await admitAnyway();
      focusInput();
    });
  }
  document.getElementById("door-refused-clear").addEventListener("click", async () => {
    try {
      await door.store.forgetRefusals();
    } finally {
      showRefusals();
      focusInput();
    }
  });
  // Signing out leaves no names on the device: the rosters, the refusals and the saved
  // copy of the page go (the scans not yet sent stay, and go up at the next sign-in).
  const logoutForm = document.getElementById("door-logout");
  logoutForm.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    const forgetting = Promise.all([door.store.forgetPeople(), window.caches ? forgetSavedPage() : null]).catch(
      () => {},
    );
    Promise.race([forgetting, wait(1000)]).then(() => logoutForm.submit());
  });

  async function forgetSavedPage() {
    const page = new URL(root.dataset.doorUrl, window.location.href).href;
    for (const name of await window.caches.keys()) {
      if (name.startsWith("attendees-door-")) {
        await (await window.caches.open(name)).delete(page, { ignoreVary: true });
      }
    }
  }

  // Sound may start only after the user has touched or typed on the page.
  document.addEventListener("pointerdown", feedback.unlock, { capture: true });
  document.addEventListener("keydown", feedback.unlock, { capture: true });

  window.addEventListener("online", heartbeat);
  window.addEventListener("offline", () => setReachable(false));
  setInterval(heartbeat, HEARTBEAT_MS);
  setInterval(() => {
    if (document.visibilityState === "visible" && !isOffline()) {
      refreshRoster();
    }
  }, ROSTER_REFRESH_MS);

  // Start from what this device remembers: mode, station, and the event unless the
  // address names one (a page opened offline is the one saved last, whatever its event).
  setMode(remembered("mode"));
  stationInput.value = remembered("station");
  const requested = new URL(window.location.href).searchParams.get("event");
  const stored = remembered("event");
  const chosen = requested || (!eventSelect.value && stored);
  if (chosen && chosen !== eventSelect.value && eventSelect.querySelector(`option[value="${CSS.escape(chosen)}"]`)) {
    eventSelect.value = chosen;
  }
  if (eventSelect.value) {
    eventChosen();
  } else {
    fillAreas();
  }
  queue.recount().catch(() => {});
  showConnection();
  showRefusals();
  if (eventSelect.value) {
    // Also when the event list took the focus first (autofocus while no event was chosen).
    queryInput.focus({ preventScroll: true });
  }

  // The service worker keeps the page and its assets, so that it opens offline too.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(root.dataset.serviceWorkerUrl, { scope: root.dataset.doorUrl }).catch(() => {
      // Without it the page works online, and offline until it is reloaded.
    });
  }
})(window.attendeesDoor);
