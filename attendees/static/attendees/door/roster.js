// The event's roster on this device: who is registered and where each one is, as the
// server last said, with the scans still waiting in the queue applied on top. Offline, a
// scanned code is found by its sha256 (the roster never holds the codes themselves), a
// name by its words, and the door's rules are applied as the server would apply them.
(function (door) {
  "use strict";

  const { t } = door.render;

  async function sha256Hex(text) {
    const digest = await window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  // Lower case without accents, so that "Godel" finds Gödel.
  function folded(text) {
    return text
      .normalize("NFD")
      .replace(/\p{Diacritic}/gu, "")
      .toLowerCase();
  }

  // The attendee as the rows of names show one (the API's attendee JSON, without email).
  function asAttendee(person) {
    return {
      id: person.id,
      first_name: person.first_name,
      last_name: person.last_name,
      email: "",
      is_checked_in: person.state === "inside",
      is_checked_out: person.state === "left",
      area: person.area,
    };
  }

  // What a scan in `mode` ("in", "out", "auto") with `area` (an id, or null for the whole
  // event) does to `person`, by the server's rules: { direction, refusal } where refusal
  // is the code the server would refuse it with, or null. `places` tells capacities and
  // how many are inside now; `place` (with its `kind`, "area" or "event") is the full one.
  function decide(person, mode, area, places) {
    const inArea = area !== null && person.area === area;
    const inside = person.state === "inside";
    const direction = mode === "auto" ? ((area === null ? inside : inArea) ? "out" : "in") : mode;
    if (direction === "in") {
      if (area === null ? inside : inArea) {
        return { direction, refusal: "already_checked_in" };
      }
      // Moving between areas counts against the new area only; coming in counts against the event too.
      const full = [];
      if (area !== null) {
        full.push({ ...places.area, kind: "area" });
      }
      if (!inside) {
        full.push({ ...places.event, kind: "event" });
      }
      const place = full.find((candidate) => candidate.capacity !== null && candidate.inside >= candidate.capacity);
      return { direction, refusal: place ? "capacity_reached" : null, place };
    }
    if (area !== null) {
      return { direction, refusal: inArea ? null : "not_checked_in" };
    }
    if (inside) {
      return { direction, refusal: null };
    }
    return { direction, refusal: person.state === "left" ? "already_checked_out" : "not_checked_in" };
  }

  function apply(person, { direction, area }) {
    if (direction === "in") {
      person.state = "inside";
      person.area = area;
    } else if (area === null) {
      person.state = "left";
      person.area = null;
    } else {
      person.area = null;
    }
  }

  function create({ store }) {
    let current = null; // { event, at, attendees, byHash, byId }
    let loading = Promise.resolve(null);

    function index(saved) {
      if (!saved) {
        return null;
      }
      return {
        ...saved,
        byHash: new Map(saved.attendees.map((person) => [person.ticket_code_sha256, person])),
        byId: new Map(saved.attendees.map((person) => [person.id, person])),
      };
    }

    async function save() {
      if (current) {
        const { byHash, byId, ...saved } = current;
        await store.saveRoster(saved);
      }
    }

    // The roster of `eventId` as this device has it (null when it has none).
    function load(eventId) {
      loading = eventId
        ? store
            .roster(eventId)
            .then((saved) => {
              current = index(saved || null);
              return current;
            })
            .catch(() => {
              current = null;
              return null;
            })
        : Promise.resolve((current = null));
      return loading;
    }

    // The server's roster, with the scans still waiting applied again on top of it: the
    // server does not know them yet.
    async function replace(body, waitingScans) {
      const fresh = index({ event: body.event, at: body.at, attendees: body.attendees });
      for (const scan of waitingScans) {
        if (scan.event !== fresh.event || !scan.applied) {
          continue;
        }
        const person = fresh.byId.get(scan.applied);
        if (person) {
          apply(person, { direction: scan.direction, area: scan.area });
        }
      }
      current = fresh;
      await save();
      return current;
    }

    async function ready(eventId) {
      const known = await loading;
      if (known && String(known.event) === String(eventId)) {
        return known;
      }
      return load(eventId);
    }

    // The person holding `code`: null when the roster has nobody with it, undefined when
    // this device cannot tell (no roster, or no hashing outside a secure context).
    async function findByCode(code) {
      if (!current || !(window.crypto && window.crypto.subtle)) {
        return undefined;
      }
      return current.byHash.get(await sha256Hex(code)) || null;
    }

    function findById(id) {
      return current ? current.byId.get(Number(id)) || null : undefined;
    }

    function placeCounts(areaId, capacities) {
      const people = current ? current.attendees : [];
      const event = { capacity: capacities.event, inside: people.filter((p) => p.state === "inside").length };
      const area =
        areaId === null ? null : { capacity: capacities.area, inside: people.filter((p) => p.area === areaId).length };
      return { event, area };
    }

    // What a scan in `mode` with `area` (an id, or null) does to `person` (null when the
    // roster does not know them, undefined when this device cannot tell): { direction,
    // refusal, place }; nothing is changed yet.
    function decideFor(person, { mode, area, capacities }) {
      if (person === undefined) {
        return { direction: mode, refusal: current ? "unchecked" : "no_roster", place: null };
      }
      if (person === null) {
        return { direction: mode, refusal: "unknown_ticket", place: null };
      }
      return decide(person, mode, area, placeCounts(area, capacities));
    }

    // A scan allowed by the rules, applied to the roster and kept.
    async function applyScan(person, { direction, area }) {
      apply(person, { direction, area });
      await save();
    }

    // An answer of the server about one attendee, kept until the next roster comes.
    async function learn(attendee) {
      const person = findById(attendee.id);
      if (!person) {
        return;
      }
      person.state = attendee.is_checked_in ? "inside" : attendee.is_checked_out ? "left" : "never_arrived";
      person.area = attendee.area === undefined ? person.area : attendee.area;
      await save();
    }

    // Names holding every word typed, in the roster's order (the server's: by last name).
    function search(text, limit) {
      const words = folded(text).split(/\s+/).filter(Boolean);
      if (!current || !words.length) {
        return { results: [], count: 0 };
      }
      const found = current.attendees.filter((person) => {
        const name = folded(`${person.first_name} ${person.last_name}`);
        return words.every((word) => name.includes(word));
      });
      return { results: found.slice(0, limit).map(asAttendee), count: found.length };
    }

    function counts() {
      if (!current) {
        return null;
      }
      const totals = { registered: current.attendees.length, inside: 0, left: 0, never_arrived: 0 };
      for (const person of current.attendees) {
        totals[person.state === "inside" ? "inside" : person.state === "left" ? "left" : "never_arrived"] += 1;
      }
      return totals;
    }

    function describe() {
      if (!current) {
        return "";
      }
      return door.render.tn(
        "On this device: %(count)s attendee, as of %(time)s",
        "On this device: %(count)s attendees, as of %(time)s",
        current.attendees.length,
        { time: door.render.clock(current.at, door.render.zoneOf(current.event)) },
      );
    }

    return {
      load,
      ready,
      replace,
      findByCode,
      findById,
      decideFor,
      applyScan,
      learn,
      search,
      counts,
      placeCounts,
      describe,
      current: () => current,
      asAttendee,
    };
  }

  door.roster = { create, sha256Hex };
})((window.attendeesDoor = window.attendeesDoor || {}));
