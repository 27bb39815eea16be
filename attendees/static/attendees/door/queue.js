// The scans made while the server could not be reached. Each waits on the device, with
// its nonce and the device's time, until the server has answered for that nonce; then it
// leaves the queue, and a refused one goes to the list of refusals. An upload whose
// answer is lost on the way back is simply sent again: the server knows the nonces and
// answers those as duplicates, recording nothing twice.
(function (door) {
  "use strict";

  // The most the server takes in one batch.
  const BATCH_SIZE = 500;

  // What the server is sent for a scan; the rest of the queued scan (the name, whether it
  // was applied to the roster) stays on the device.
  function payloadOf(scan) {
    const payload = { nonce: scan.nonce, direction: scan.direction, at: scan.at, event: scan.event };
    if (scan.ticket_code) {
      payload.ticket_code = scan.ticket_code;
    } else {
      payload.attendee = scan.attendee;
    }
    if (scan.station) {
      payload.station = scan.station;
    }
    if (scan.area !== null) {
      payload.area = scan.area;
    }
    return payload;
  }

  // One upload at a time, also across the door's tabs where the browser can tell.
  function exclusively(task) {
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("attendees-door-upload", task);
    }
    return task();
  }

  function create({ store, api, onChange }) {
    let size = 0;
    let uploading = null;

    async function recount() {
      size = await store.waitingCount();
      onChange();
      return size;
    }

    async function add(scan) {
      await store.enqueue(scan);
      await recount();
    }

    // Answers { outcome: "done" | "unreachable" | "problem", status, sent, refused }: how
    // many scans the server answered for in this upload, and how many of them it refused.
    async function send() {
      let sent = 0;
      let refused = 0;
      for (;;) {
        const scans = (await store.waiting()).slice(0, BATCH_SIZE);
        if (!scans.length) {
          return { outcome: "done", sent, refused };
        }
        let answer;
        try {
          answer = await api.uploadScans(scans.map(payloadOf));
        } catch (error) {
          if (error instanceof door.api.Unreachable) {
            return { outcome: "unreachable", sent, refused };
          }
          throw error;
        }
        const { status, body } = answer;
        if (status !== 200 || !body || !Array.isArray(body.results)) {
          return { outcome: "problem", status, sent, refused };
        }
        const byNonce = new Map(scans.map((scan) => [scan.nonce, scan]));
        const answered = [];
        const refusals = [];
        for (const result of body.results) {
          const scan = byNonce.get(result.nonce);
          if (!scan) {
            continue;
          }
          answered.push(scan.nonce);
          if (result.status === "refused") {
            refusals.push({
              nonce: scan.nonce,
              name: scan.name,
              code: result.code,
              at: scan.at,
              direction: scan.direction,
              event: scan.event,
            });
          }
        }
        await store.settle(answered, refusals);
        sent += answered.length;
        refused += refusals.length;
        await recount();
        if (!answered.length) {
          return { outcome: "problem", status, sent, refused };
        }
      }
    }

    function upload() {
      if (!uploading) {
        uploading = exclusively(send).finally(() => {
          uploading = null;
        });
      }
      return uploading;
    }

    return {
      add,
      upload,
      recount,
      size: () => size,
      uploading: () => uploading !== null,
      waiting: () => store.waiting(),
    };
  }

  door.queue = { create, payloadOf, BATCH_SIZE };
})((window.attendeesDoor = window.attendeesDoor || {}));
