// The door page, scan-first: one input that a barcode scanner types into and where
// people type names, the camera, the mode, and the latest result. What is on screen
// always comes from the server's answer; this file keeps the page's state and wires
// the parts (door/api.js, door/render.js, door/scanner.js, door/camera.js) together.
(function (door) {
  "use strict";

  const root = document.getElementById("door");
  if (!root) {
    return;
  }
  const { t, fullName, clock, latest } = door.render;

  const eventSelect = document.getElementById("door-event");
  const stationInput = document.getElementById("door-station");
  const queryInput = document.getElementById("door-query");
  const list = document.getElementById("door-results");
  const summary = document.getElementById("door-summary");
  const modeButtons = Array.from(document.querySelectorAll(".mode[data-mode]"));
  const cameraButton = document.getElementById("door-camera");
  const cameraView = document.getElementById("door-camera-view");
  const cameraStatus = document.getElementById("door-camera-status");
  const undoButton = document.getElementById("door-undo");
  const countElements = {
    inside: document.getElementById("count-inside"),
    left: document.getElementById("count-left"),
    not_arrived: document.getElementById("count-not-arrived"),
  };

  const api = door.api.create({
    attendeesUrl: root.dataset.attendeesUrl,
    scansUrl: root.dataset.scansUrl,
    undoUrl: root.dataset.undoUrl,
    countsUrl: root.dataset.countsUrl,
    csrfToken: root.dataset.csrfToken,
  });
  const username = root.dataset.username;

  const PAGE_SIZE = 20;
  const COUNTS_REFRESH_MS = 15000;
  // A second scan or tap of someone within this time of a success shows that success
  // again and sends nothing, so it can never reverse it.
  const REPEAT_MS = 2000;
  const UNDO_MS = 2 * 60 * 1000;
  const MODES = ["in", "out", "auto"];

  // Settings remembered on this device.
  const STORED = { event: "attendees.door.event", station: "attendees.door.station", mode: "attendees.door.mode" };

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
  };

  const feedback = door.render.createFeedback();
  const panel = door.render.createResultPanel({
    panel: document.getElementById("door-result"),
    text: document.getElementById("door-message"),
    undoButton,
    feedback,
    onShown: focusInput,
  });

  // The input holds the focus after every result, unless door staff are busy with the
  // event or the station.
  function focusInput() {
    const active = document.activeElement;
    if (active === eventSelect || active === stationInput) {
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
    return attendee.is_checked_in ? "checkout" : "checkin";
  }

  // Results

  function successView({ result, attendee, record, keys }) {
    const checkedIn = result === "checked_in";
    const at = record ? record.at : latest(checkedIn ? attendee.checkin_times : attendee.checkout_times);
    const station = record ? record.station : stationInput.value.trim();
    const view = {
      kind: checkedIn ? "checked-in" : "checked-out",
      title: checkedIn ? t("Checked in") : t("Checked out"),
      name: fullName(attendee),
      detail: station ? t("%(time)s, %(station)s", { time: clock(at), station }) : clock(at),
      attendeeId: attendee.id,
      recordType: checkedIn ? "check_in" : "check_out",
      record: record || null,
      undo: { until: Date.now() + UNDO_MS, busy: !record },
    };
    state.lastSuccess = { keys: new Set(keys), at: Date.now(), view };
    return view;
  }

  function refusalView(title, { name = "", detail = "" } = {}) {
    return { kind: "refused", title, name, detail, undo: null };
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

  // Scanning a ticket code (barcode scanner or camera)

  async function scanCode(code) {
    if (needsEvent()) {
      return;
    }
    const keys = [`code:${code}`];
    if (!mayGo(keys)) {
      return;
    }
    state.inFlight.add(keys[0]);
    try {
      const { status, body } = await api.scan({
        code,
        direction: state.mode,
        event: eventSelect.value,
        station: stationInput.value.trim(),
      });
      if (status === 201 && body) {
        const view = successView({ ...body, keys: [...keys, `attendee:${body.attendee.id}`] });
        panel.show(view);
        updateRow(body.attendee);
      } else if (status === 404 && body) {
        panel.show(refusalView(t("Unknown ticket"), { detail: t("No attendee has this ticket. Try the name.") }));
      } else if (status === 409 && body) {
        panel.show(
          refusalView(t("Refused"), { name: body.attendee ? fullName(body.attendee) : "", detail: body.detail }),
        );
        if (body.attendee) {
          updateRow(body.attendee);
        }
      } else {
        panel.show(problemView(status, body));
      }
    } catch {
      panel.show(unreachableView());
    } finally {
      state.inFlight.delete(keys[0]);
      refreshCounts();
    }
  }

  // Checking in or out an attendee found by name

  async function actOn(attendee, action = actionFor(attendee)) {
    if (needsEvent()) {
      return;
    }
    const keys = [`attendee:${attendee.id}`];
    if (!mayGo(keys)) {
      return;
    }
    state.inFlight.add(keys[0]);
    const station = stationInput.value.trim();
    try {
      const call = action === "checkout" ? api.checkOut : api.checkIn;
      const { status, body } = await call(attendee.id, station);
      if (status === 201 && body) {
        const result = action === "checkout" ? "checked_out" : "checked_in";
        const view = successView({ result, attendee: body, record: null, keys });
        panel.show(view);
        updateRow(body);
        findUndoableRecord(view);
      } else if (status === 409 && body) {
        panel.show(refusalView(t("Refused"), { name: fullName(attendee), detail: body.detail }));
        reloadRow(attendee.id);
      } else {
        panel.show(problemView(status, body));
      }
    } catch {
      panel.show(unreachableView());
    } finally {
      state.inFlight.delete(keys[0]);
      refreshCounts();
    }
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

  // Searching names

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
        const { status, body } = await api.search(eventId, text, PAGE_SIZE);
        if (number !== state.searchNumber) {
          return null; // A newer search has started; its answer is the one to show.
        }
        if (status === 200 && body) {
          showMatches(text, body.results, body.count);
        } else {
          summary.textContent =
            status === 401 || status === 403
              ? t("Not allowed: reload the page to sign in again.")
              : t("The search failed. Try again.");
        }
      } catch {
        if (number === state.searchNumber) {
          summary.textContent = t("Could not reach the server. Check the connection and try again.");
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
        updateRow(fresh);
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

  // Counts

  async function refreshCounts() {
    const eventId = eventSelect.value;
    if (!eventId) {
      door.render.renderCounts(countElements, null);
      return;
    }
    try {
      const { status, body } = await api.counts(eventId);
      if (status === 200 && body && String(body.event) === eventSelect.value) {
        door.render.renderCounts(countElements, body);
      }
    } catch {
      // The next refresh tries again.
    }
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
    search(queryInput.value.trim());
    refreshCounts();
  }

  eventSelect.addEventListener("change", eventChosen);
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
  // Sound may start only after the user has touched or typed on the page.
  document.addEventListener("pointerdown", feedback.unlock, { capture: true });
  document.addEventListener("keydown", feedback.unlock, { capture: true });

  setInterval(() => {
    if (document.visibilityState === "visible") {
      refreshCounts();
    }
  }, COUNTS_REFRESH_MS);

  // Start from what this device remembers: mode, station, and the event unless the
  // address names one.
  setMode(remembered("mode"));
  stationInput.value = remembered("station");
  const requested = new URL(window.location.href).searchParams.get("event");
  const stored = remembered("event");
  if (!requested && !eventSelect.value && stored && eventSelect.querySelector(`option[value="${CSS.escape(stored)}"]`)) {
    eventSelect.value = stored;
    eventChosen();
  } else {
    if (eventSelect.value) {
      remember("event", eventSelect.value);
    }
    refreshCounts();
  }
  if (eventSelect.value) {
    focusInput();
  }
})(window.attendeesDoor);
