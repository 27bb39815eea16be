// The door's service worker: once the door page has been opened online, it opens with no
// network too, reload included. Served at the door's own address (see the view
// `door_service_worker`), which puts a first line before this one:
//   self.doorOffline = { page, manifest, assets, version }
// The page is fetched from the network first, and its last good copy answered when the
// network fails or keeps it waiting; the assets are answered from this version's cache.
// Everything else (the API above all) goes to the network untouched.
/* global self, caches */
"use strict";

const { page, manifest, assets, version } = self.doorOffline;
const CACHE = `attendees-door-${version}`;
const CACHE_PREFIX = "attendees-door-";
// As for the door's API calls: a page that does not come within this time comes from the cache.
const ANSWER_WITHIN_MS = 3000;

const pageUrl = new URL(page, self.location).href;
const kept = new Set([...assets, manifest].map((url) => new URL(url, self.location).href));

// A response fit to keep as the door page: the page itself, not a redirect to the login
// or an error page.
function isDoorPage(response) {
  const path = new URL(pageUrl).pathname;
  return response.ok && response.type === "basic" && !response.redirected && new URL(response.url).pathname === path;
}

// The copy is the device's only one, whatever the page's Vary header names.
const ANY_VARIANT = { ignoreVary: true };

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll([...kept]);
      // The page that registered this worker is signed in: keep a copy of the page now.
      const response = await fetch(pageUrl, { credentials: "same-origin" }).catch(() => null);
      if (response && isDoorPage(response)) {
        await cache.put(pageUrl, response);
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      const current = await caches.open(CACHE);
      if (!(await current.match(pageUrl, ANY_VARIANT))) {
        // Carry the page over from the version before, so that an update made while
        // offline does not lose it.
        for (const name of names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE)) {
          const older = await (await caches.open(name)).match(pageUrl, ANY_VARIANT);
          if (older) {
            await current.put(pageUrl, older);
            break;
          }
        }
      }
      await Promise.all(
        names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE).map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

async function doorPage(request) {
  const cache = await caches.open(CACHE);
  const fromNetwork = fetch(request).then(async (response) => {
    if (isDoorPage(response)) {
      await cache.put(pageUrl, response.clone());
    }
    return response;
  });
  // Keeps the cache fresh even when the copy was answered first.
  fromNetwork.catch(() => {});
  let timer;
  const slow = new Promise((resolve) => {
    timer = setTimeout(resolve, ANSWER_WITHIN_MS);
  });
  try {
    const first = await Promise.race([fromNetwork.then((response) => ({ response })), slow.then(() => null)]);
    if (first) {
      const { response } = first;
      // A server error: the copy serves better, while there is one.
      if (response.status >= 500) {
        return (await cache.match(pageUrl, ANY_VARIANT)) || response;
      }
      return response;
    }
  } catch {
    // The network failed: the copy answers below.
  } finally {
    clearTimeout(timer);
  }
  return (await cache.match(pageUrl, ANY_VARIANT)) || fromNetwork;
}

async function asset(request) {
  const cached = await caches.match(request, { cacheName: CACHE, ...ANY_VARIANT });
  return cached || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (
    request.mode === "navigate" &&
    url.origin === self.location.origin &&
    url.pathname === new URL(pageUrl).pathname
  ) {
    event.respondWith(doorPage(request));
  } else if (kept.has(url.href)) {
    event.respondWith(asset(request));
  }
});
