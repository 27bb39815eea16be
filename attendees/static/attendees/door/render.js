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

  // A result stays at least this long before the next one replaces it, so that door
  // staff see every one, also when the camera reads tickets in quick succession.
  const MIN_SHOWN_MS = 1500;

  const GLYPHS = { "checked-in": "✓", "checked-out": "→", refused: "✕", undone: "↶", idle: "", notice: "!" };

  function fullName(attendee) {
    return `${attendee.first_name} ${attendee.last_name}`;
  }

  function clock(iso) {
    if (!iso) {
      return "";
    }
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
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
  //     undo: { until, busy } | null }
  // and the panel offers "Undo" while `undo.until` lies ahead.
  function createResultPanel({ panel, text, undoButton, feedback, onShown }) {
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
      panel.className = `result result-${view.kind}`;
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
    const emailLine = document.createElement("span");
    emailLine.className = "email";
    emailLine.textContent = attendee.email;
    details.append(badge, emailLine);
    who.append(nameLine, details);

    const button = document.createElement("button");
    button.type = "button";
    const checkingOut = action === "checkout";
    button.className = `action ${checkingOut ? "action-check-out" : "action-check-in"}`;
    button.dataset.action = action;
    button.textContent = checkingOut ? t("Check out") : t("Check in");
    button.setAttribute("aria-label", checkingOut ? t("Check out %(name)s", { name: label }) : t("Check in %(name)s", { name: label }));
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

  door.render = {
    t,
    fullName,
    clock,
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
