// "Scan with camera": frames from the device's camera are drawn to a canvas and
// decoded continuously, with the browser's BarcodeDetector where it reads QR codes,
// else with the vendored jsQR, which is loaded only then.
(function (door) {
  "use strict";

  const { t } = door.render;

  // A code acted on is ignored while it stays in view and for this long after it was
  // last seen: a ticket held up to the camera is scanned once.
  const HOLD_MS = 3000;
  const FRAME_PAUSE_MS = 100;
  const LONGEST_SIDE = 800;

  let jsQRLoading = null;

  function loadJsQR(url) {
    if (window.jsQR) {
      return Promise.resolve(window.jsQR);
    }
    if (!jsQRLoading) {
      jsQRLoading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = url;
        script.async = true;
        script.onload = () => (window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR")));
        script.onerror = () => {
          jsQRLoading = null;
          script.remove();
          reject(new Error("jsQR"));
        };
        document.head.append(script);
      });
    }
    return jsQRLoading;
  }

  // A decoder takes the canvas (with the frame drawn on it) and answers the texts found.
  async function makeDecoder(jsQRUrl) {
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) {
          const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
          return async (canvas) => (await detector.detect(canvas)).map((found) => found.rawValue);
        }
      } catch {
        // Fall back to jsQR below.
      }
    }
    const jsQR = await loadJsQR(jsQRUrl);
    return async (canvas, context) => {
      const frame = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "dontInvert" });
      return found && found.data ? [found.data] : [];
    };
  }

  function problemWith(error) {
    switch (error && error.name) {
      case "NotAllowedError":
      case "SecurityError":
        return t("The camera was not allowed. Allow it in the browser's settings for this site, or type the code.");
      case "NotFoundError":
      case "OverconstrainedError":
        return t("No camera was found on this device.");
      case "NotReadableError":
        return t("The camera is in use by another app.");
      default:
        return t("The camera could not be started.");
    }
  }

  function create({ video, jsQRUrl, onCode, onStatus }) {
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    const lastSeen = new Map();
    let stream = null;
    let decode = null;
    let frameTimer = null;
    let running = false;
    let starting = false;

    // True when the code was seen within HOLD_MS, i.e. it has been acted on already.
    function seenRecently(code, now) {
      for (const [known, at] of lastSeen) {
        if (now - at > HOLD_MS) {
          lastSeen.delete(known);
        }
      }
      const recent = lastSeen.has(code);
      lastSeen.set(code, now);
      return recent;
    }

    async function readFrame() {
      frameTimer = null;
      if (!running) {
        return;
      }
      if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
        const scale = Math.min(1, LONGEST_SIDE / Math.max(video.videoWidth, video.videoHeight));
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        try {
          const now = Date.now();
          for (const code of await decode(canvas, context)) {
            if (running && code && !seenRecently(code, now)) {
              onCode(code);
            }
          }
        } catch {
          // An undecodable frame: try the next one.
        }
      }
      if (running) {
        frameTimer = setTimeout(readFrame, FRAME_PAUSE_MS);
      }
    }

    // Each start gets a number; a stop, or a newer start, makes an older one give up.
    let generation = 0;

    async function start() {
      if (running) {
        return true;
      }
      const mine = ++generation;
      starting = true;
      try {
        return await open(mine);
      } finally {
        if (mine === generation) {
          starting = false;
        }
      }
    }

    async function open(mine) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        onStatus(t("This browser offers no camera here: the camera needs HTTPS. A barcode scanner or typing works."));
        return false;
      }
      onStatus(t("Starting the camera…"));
      let opened;
      try {
        opened = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
          audio: false,
        });
        decode = decode || (await makeDecoder(jsQRUrl));
      } catch (error) {
        if (opened) {
          opened.getTracks().forEach((track) => track.stop());
        }
        if (mine === generation) {
          onStatus(error instanceof DOMException ? problemWith(error) : t("The QR code reader could not be loaded."));
        }
        return false;
      }
      if (mine !== generation) {
        opened.getTracks().forEach((track) => track.stop());
        return false;
      }
      stream = opened;
      video.srcObject = stream;
      await video.play().catch(() => {});
      if (mine !== generation) {
        return false; // Stopped while the preview was starting; stop() has closed the stream.
      }
      running = true;
      onStatus(t("Hold a ticket's QR code up to the camera."));
      readFrame();
      return true;
    }

    function stopStream() {
      if (stream) {
        stream.getTracks().forEach((track) => track.stop());
        stream = null;
      }
      video.srcObject = null;
    }

    function stop() {
      generation += 1;
      starting = false;
      running = false;
      clearTimeout(frameTimer);
      frameTimer = null;
      stopStream();
      onStatus("");
    }

    // On: running, or starting (asking for the camera, loading the decoder).
    return { start, stop, isOn: () => running || starting };
  }

  door.camera = { create, HOLD_MS };
})((window.attendeesDoor = window.attendeesDoor || {}));
