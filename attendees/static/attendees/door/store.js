// What the door keeps on the device, in IndexedDB (through the vendored `idb`):
//   rosters: per event, who is registered (names and the sha256 of their ticket codes,
//            never the codes) and their state as this device last knew it;
//   queue:   the scans made while the server could not be reached, oldest first, until
//            the server has answered for each;
//   refused: the scans made offline that the server refused, for door staff to see.
(function (door) {
  "use strict";

  const NAME = "attendees-door";
  const VERSION = 1;

  let opening = null;

  function open() {
    if (!opening) {
      if (!window.idb || !window.indexedDB) {
        return Promise.reject(new Error("This browser keeps nothing offline."));
      }
      opening = window.idb
        .openDB(NAME, VERSION, {
          upgrade(database) {
            database.createObjectStore("rosters", { keyPath: "event" });
            const queue = database.createObjectStore("queue", { keyPath: "order", autoIncrement: true });
            queue.createIndex("nonce", "nonce", { unique: true });
            database.createObjectStore("refused", { keyPath: "nonce" });
          },
          // Another tab wants a newer version: let it have the database.
          blocking() {
            opening.then((database) => database.close());
            opening = null;
          },
        })
        .catch((error) => {
          opening = null;
          throw error;
        });
    }
    return opening;
  }

  async function roster(eventId) {
    return (await open()).get("rosters", Number(eventId));
  }

  async function saveRoster(value) {
    await (await open()).put("rosters", value);
  }

  // The queue, oldest first.
  async function waiting() {
    return (await open()).getAll("queue");
  }

  async function waitingCount() {
    return (await open()).count("queue");
  }

  async function enqueue(scan) {
    await (await open()).add("queue", scan);
  }

  // Takes the answered scans off the queue and keeps the refused ones, in one transaction:
  // a scan is never lost between the two.
  async function settle(answered, refusals) {
    const database = await open();
    const transaction = database.transaction(["queue", "refused"], "readwrite");
    const byNonce = transaction.objectStore("queue").index("nonce");
    for (const nonce of answered) {
      const order = await byNonce.getKey(nonce);
      if (order !== undefined) {
        await transaction.objectStore("queue").delete(order);
      }
    }
    for (const refusal of refusals) {
      await transaction.objectStore("refused").put(refusal);
    }
    await transaction.done;
  }

  async function refusals() {
    const all = await (await open()).getAll("refused");
    return all.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  }

  async function forgetRefusals() {
    await (await open()).clear("refused");
  }

  // On signing out: the names go, the scans not yet sent stay until someone signs in again.
  async function forgetPeople() {
    const database = await open();
    await Promise.all([database.clear("rosters"), database.clear("refused")]);
  }

  door.store = {
    open,
    roster,
    saveRoster,
    waiting,
    waitingCount,
    enqueue,
    settle,
    refusals,
    forgetRefusals,
    forgetPeople,
  };
})((window.attendeesDoor = window.attendeesDoor || {}));
