// How the door page tells things: the big result in the middle of the screen (with its
// sound, vibration and screen-reader announcement), the attendee rows and the counts.
(function (door) {
  "use strict";

  // Translated through Django's JavaScript catalog when the page loads one.
  function t(text, values) {
    const translated = typeof window.gettext === "function" ? window.gettext(text) : text;
    if (!values) {
      return translated;
    }
    return translated.replace(/%\((\w+)\)s/g, (placeholder, name) => (name in values ? values[name] : placeholder));
  }

  // Plural forms through the catalog when there is one; `%(count)s` is filled in.
  function tn(singular, plural, count, values = {}) {
    const translated =
      typeof window.ngettext === "function"
        ? window.ngettext(singular, plural, count)
        : count === 1
          ? singular
          : plural;
    return translated.replace(/%\((\w+)\)s/g, (placeholder, name) =>
      name === "count" ? String(count) : name in values ? values[name] : placeholder,
    );
  }

  // A result stays at least this long before the next one replaces it, so that door
  // staff see every one, also when the camera reads tickets in quick succession.
  const MIN_SHOWN_MS = 1500;

  const GLYPHS = { "checked-in": "✓", "checked-out": "→", refused: "✕", undone: "↶", idle: "", notice: "!" };

  // A place is "nearly full" from this share of its capacity on.
  const NEARLY_FULL = 0.8;

  function fullName(attendee) {
    return `${attendee.first_name} ${attendee.last_name}`;
  }

  // The time zone of an event, as the door page's list of events gives it (an IANA name).
  function zoneOf(eventId) {
    const option = document.querySelector(`#door-event option[value="${CSS.escape(String(eventId))}"]`);
    return (option && option.dataset.timezone) || undefined;
  }

  // A time of day as the event's clocks show it, with the zone's name in the page's
  // language ("14:05 CET", "14:05 MEZ"), wherever the device running the page is.
  function clock(iso, timeZone) {
    if (!iso) {
      return "";
    }
    const language = document.documentElement.lang || undefined;
    const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" };
    try {
      return new Date(iso).toLocaleTimeString(language, { ...options, timeZone });
    } catch (error) {
      // A zone this browser does not know: the device's own, still named.
      return new Date(iso).toLocaleTimeString(language, options);
    }
  }

  function latest(times) {
    return times && times.length ? times[times.length - 1] : null;
  }

  function stateOf(attendee) {
    if (attendee.is_checked_in) {
      return { key: "inside", label: t("Inside") };
    }
    if (attendee.is_checked_out) {
      return { key: "left", label: t("Left") };
    }
    return { key: "not-arrived", label: t("Not arrived") };
  }

  // Sound and vibration. Browsers let a page play sound only after the user has
  // touched or typed on it, so the audio context is made on the first such gesture.
  function createFeedback() {
    let audio = null;

    function unlock() {
      const AudioContext = window.AudioContext || window.webkitAudioContext;
      if (!audio && AudioContext) {
        audio = new AudioContext();
      }
      if (audio && audio.state === "suspended") {
        audio.resume().catch(() => {});
      }
    }

    function tone(frequency, startsAfter, seconds, wave) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      const start = audio.currentTime + startsAfter;
      oscillator.type = wave;
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.25, start + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + seconds);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(start);
      oscillator.stop(start + seconds + 0.02);
    }

    function vibrate(pattern) {
      if (typeof navigator.vibrate === "function") {
        navigator.vibrate(pattern);
      }
    }

    return {
      unlock,
      success(kind) {
        if (audio && audio.state === "running") {
          tone(kind === "checked-out" ? 660 : 880, 0, 0.12, "sine");
        }
        vibrate(60);
      },
      refusal() {
        if (audio && audio.state === "running") {
          tone(220, 0, 0.16, "square");
          tone(180, 0.2, 0.22, "square");
        }
        vibrate([120, 60, 120]);
      },
    };
  }

  // The result panel. A view is
  //   { kind: "checked-in"|"checked-out"|"refused"|"undone"|"notice", title, name, detail,
  //     undo: { until, busy } | null, override: { busy } | null, offline: bool }
  // and the panel offers "Undo" while `undo.until` lies ahead, and "Admit anyway" (when
  // the page has that button: only for those allowed to) while the view has `override`.
  // An offline view is one saved on the device, not yet answered by the server.
  function createResultPanel({ panel, text, undoButton, overrideButton, feedback, onShown }) {
    const title = text.querySelector(".result-title");
    const name = text.querySelector(".result-name");
    const detail = text.querySelector(".result-detail");
    const queue = [];
    let current = null;
    let shownAt = 0;
    let waitTimer = null;
    let undoTimer = null;
    let compactWanted = false;
    let compactTimer = null;

    function paint(view, { repeat = false } = {}) {
      current = view;
      shownAt = performance.now();
      // Counted from the frame that shows it: work that follows on the page must not eat
      // into its time on screen.
      requestAnimationFrame(() => {
        if (current === view) {
          shownAt = performance.now();
        }
      });
      panel.className = `result result-${view.kind}`;
      panel.classList.toggle("result-offline", Boolean(view.offline));
      panel.dataset.glyph = GLYPHS[view.kind] || "";
      title.textContent = view.title;
      name.textContent = view.name || "";
      detail.textContent = view.detail || "";
      // Restart the entrance animation so that a repeated result is noticed too.
      panel.classList.remove("result-fresh");
      void panel.offsetWidth;
      panel.classList.add("result-fresh");
      if (repeat) {
        panel.classList.add("result-repeat");
      }
      refreshUndo();
      applyCompact();
      if (view.kind === "checked-in" || view.kind === "checked-out") {
        feedback.success(view.kind);
      } else if (view.kind === "refused") {
        feedback.refusal();
      }
      onShown(view);
    }

    function pump() {
      if (waitTimer || !queue.length) {
        return;
      }
      const wait = shownAt + MIN_SHOWN_MS - performance.now();
      if (wait > 0) {
        waitTimer = setTimeout(() => {
          waitTimer = null;
          pump();
        }, wait);
        return;
      }
      const [view, options] = queue.shift();
      paint(view, options);
      pump();
    }

    function show(view, options = {}) {
      if (queue.length) {
        if (queue[queue.length - 1][0] !== view) {
          queue.push([view, options]);
        }
        return; // The queue is already waiting for its turn.
      }
      if (view === current) {
        paint(view, options); // The same result again: told again at once, nothing else hidden.
        return;
      }
      queue.push([view, options]);
      pump();
    }

    function refreshUndo() {
      if (overrideButton) {
        const override = current && current.override;
        overrideButton.hidden = !override;
        overrideButton.setAttribute("aria-disabled", String(Boolean(override && override.busy)));
      }
      clearTimeout(undoTimer);
      const undo = current && current.undo;
      const left = undo ? undo.until - Date.now() : 0;
      undoButton.hidden = !(left > 0);
      undoButton.setAttribute("aria-disabled", String(Boolean(undo && undo.busy)));
      if (left > 0) {
        undoTimer = setTimeout(refreshUndo, left);
      }
    }

    // While the list of names matters (something typed), an older result gives it room.
    function applyCompact() {
      clearTimeout(compactTimer);
      const age = performance.now() - shownAt;
      if (compactWanted && age < MIN_SHOWN_MS) {
        compactTimer = setTimeout(applyCompact, MIN_SHOWN_MS - age);
      }
      panel.classList.toggle("result-compact", compactWanted && age >= MIN_SHOWN_MS);
    }

    return {
      show,
      current: () => current,
      refreshUndo,
      setCompact(wanted) {
        compactWanted = wanted;
        applyCompact();
      },
    };
  }

  // One attendee in the list of names found, with the button the mode asks for.
  function renderRow(item, attendee, { action, onAct }) {
    const state = stateOf(attendee);
    const label = fullName(attendee);
    item.className = "attendee";
    item.dataset.attendeeId = attendee.id;
    item.dataset.state = state.key;
    item.replaceChildren();

    const who = document.createElement("div");
    who.className = "who";
    const nameLine = document.createElement("span");
    nameLine.className = "name";
    nameLine.textContent = label;
    const details = document.createElement("span");
    details.className = "details";
    const badge = document.createElement("span");
    badge.className = `state state-${state.key}`;
    badge.textContent = state.label;
    details.append(badge);
    if (attendee.email) {
      const emailLine = document.createElement("span");
      emailLine.className = "email";
      emailLine.textContent = attendee.email;
      details.append(emailLine);
    }
    who.append(nameLine, details);

    const button = document.createElement("button");
    button.type = "button";
    const checkingOut = action === "checkout";
    button.className = `action ${checkingOut ? "action-check-out" : "action-check-in"}`;
    button.dataset.action = action;
    button.textContent = checkingOut ? t("Check out") : t("Check in");
    button.setAttribute(
      "aria-label",
      checkingOut ? t("Check out %(name)s", { name: label }) : t("Check in %(name)s", { name: label }),
    );
    button.addEventListener("click", () => onAct(attendee, action, button));

    item.append(who, button);
  }

  function describeMatches(count, shown, text) {
    if (count === 0) {
      return t("No attendee matches “%(text)s”.", { text });
    }
    const what =
      count === 1
        ? t("1 attendee matches “%(text)s”.", { text })
        : t("%(count)s attendees match “%(text)s”.", { count, text });
    return shown < count ? `${what} ${t("Showing the first %(shown)s; type more to narrow down.", { shown })}` : what;
  }

  function renderCounts(elements, body) {
    for (const [key, element] of Object.entries(elements)) {
      element.textContent = body ? String(body[key]) : "–";
    }
  }

  // How full the chosen place (the event, or an area) is: "inside / capacity", amber
  // from 80 % and red at 100 %, said in words too ("Over capacity" once some were
  // admitted anyway, or the capacity lowered). An event without a capacity shows
  // nothing here: its number inside is among the counts already.
  function renderPlace(element, place) {
    element.replaceChildren();
    if (!place || (place.area === null && place.capacity === null)) {
      element.hidden = true;
      delete element.dataset.level;
      return;
    }
    const name = document.createElement("span");
    name.className = "place-name";
    name.textContent = place.name;
    const count = document.createElement("span");
    count.className = "place-count";
    let level = "open";
    if (place.capacity === null) {
      count.textContent = t("%(inside)s inside", { inside: place.inside });
    } else {
      count.textContent = t("%(inside)s / %(capacity)s inside", { inside: place.inside, capacity: place.capacity });
      if (place.inside >= place.capacity) {
        level = "full";
      } else if (place.inside >= place.capacity * NEARLY_FULL) {
        level = "nearly-full";
      }
    }
    element.append(name, count);
    if (level !== "open") {
      const word = document.createElement("span");
      word.className = "place-level";
      word.textContent =
        level === "nearly-full" ? t("Nearly full") : place.inside > place.capacity ? t("Over capacity") : t("Full");
      element.append(word);
    }
    element.dataset.level = level;
    element.hidden = false;
  }

  // The refusals the server gave for scans made offline, with their reasons in words.
  const REASONS = {
    unknown_ticket: () => t("Unknown ticket"),
    wrong_event: () => t("Ticket for another event"),
    already_checked_in: () => t("Already inside"),
    not_checked_in: () => t("Was not inside"),
    already_checked_out: () => t("Had already left"),
    capacity_reached: () => t("The place was full"),
    too_old: () => t("More than 7 days old"),
    out_of_order: () => t("Older than the attendee's latest record"),
    invalid: () => t("Not a valid scan"),
  };

  function reason(code) {
    return code in REASONS ? REASONS[code]() : t("Refused (%(code)s)", { code });
  }

  function renderRefused(list, refusals) {
    list.replaceChildren(
      ...refusals.map((refusal) => {
        const item = document.createElement("li");
        item.className = "refused-item";
        // Whose ticket it was, when the device knew; else the reason stands in the name's place.
        const who = document.createElement("span");
        who.className = "refused-who";
        who.textContent = refusal.name || reason(refusal.code);
        const what = document.createElement("span");
        what.className = "refused-what";
        const time = clock(refusal.at, zoneOf(refusal.event));
        if (!refusal.name) {
          what.textContent =
            {
              in: t("Entrance scan at %(time)s", { time }),
              out: t("Exit scan at %(time)s", { time }),
            }[refusal.direction] || t("Scan at %(time)s", { time });
        } else {
          const values = { reason: reason(refusal.code), time };
          what.textContent =
            {
              in: t("%(reason)s: entrance scan at %(time)s", values),
              out: t("%(reason)s: exit scan at %(time)s", values),
            }[refusal.direction] || t("%(reason)s: scan at %(time)s", values);
        }
        item.append(who, what);
        return item;
      }),
    );
  }

  door.render = {
    t,
    tn,
    reason,
    renderPlace,
    renderRefused,
    fullName,
    clock,
    zoneOf,
    latest,
    stateOf,
    createFeedback,
    createResultPanel,
    renderRow,
    describeMatches,
    renderCounts,
    MIN_SHOWN_MS,
  };
})((window.attendeesDoor = window.attendeesDoor || {}));
