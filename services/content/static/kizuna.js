/*!
 * kizuna.js 0.1.0: the Kizuna browser snippet.
 *
 * Queues the vendor's calls in localStorage and delivers them to ingest; asks the content service
 * what to show this user on this page; shows it inside one Shadow DOM; reports what the user does
 * with it. docs/snippet.md is the contract, and this file follows it section by section.
 */
(function (window, document) {
  "use strict";

  // The tag that loaded us: only known while this file first runs.
  const currentScript = document.currentScript;

  const VERSION = "0.1.0";
  const LIBRARY = { name: "kizuna.js", version: VERSION };
  const SESSION_IDLE_MS = 30 * 60 * 1000;
  const FLUSH_EVERY_MS = 1000;
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 60 * 1000;
  const BATCH_MAX_MESSAGES = 100;
  const BATCH_MAX_BYTES = 450 * 1024; // ingest refuses bodies over 500 KB
  const MESSAGE_MAX_BYTES = 32 * 1024; // ...and any single call over 32 KB
  const KEEPALIVE_MAX_BYTES = 60 * 1024; // browsers refuse keepalive and beacon bodies over 64 KB
  const QUEUE_MAX_MESSAGES = 1000;
  const TARGET_WAIT_MS = 5000;
  const POLL_DEFAULT_S = 30;
  const CALLS = ["identify", "group", "track", "page", "reset", "optOut"];

  const config = readConfig(currentScript || document.querySelector("script[data-write-key]"));

  function readConfig(script) {
    const data = (script && script.dataset) || {};
    const trim = (url) => (url || "").replace(/\/+$/, "");
    let contentHost = trim(data.contentHost);
    if (!contentHost && script && script.src) {
      // Served as {content-host}/sdk/kizuna.js: keep any path prefix in front of /sdk/.
      const src = new URL(script.src, location.href);
      const at = src.pathname.indexOf("/sdk/");
      contentHost = src.origin + (at > 0 ? src.pathname.slice(0, at) : "");
    }
    const language = (data.locale || navigator.language || "en").toLowerCase();
    return {
      writeKey: data.writeKey || "",
      apiHost: trim(data.apiHost),
      contentHost,
      locale: language.startsWith("ja") ? "ja" : "en",
    };
  }

  /* ------------------------------------------------------------------------------------------
   * Small helpers
   * ---------------------------------------------------------------------------------------- */

  function warn(message, detail) {
    try {
      if (detail === undefined) console.warn("[kizuna] " + message);
      else console.warn("[kizuna] " + message, detail);
    } catch (ignored) {
      // a console that throws is not worth breaking the page for
    }
  }

  const warned = {};
  function warnOnce(key, message, detail) {
    if (warned[key]) return;
    warned[key] = true;
    warn(message, detail);
  }

  // Every way into this file from outside (API, listeners, timers) goes through guard():
  // whatever goes wrong here must never throw into the vendor's page.
  function guard(fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (error) {
        warn("internal error", error);
      }
    };
  }

  const nowIso = () => new Date().toISOString();
  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const plain = (value) => (isObject(value) ? value : {});
  const clamp = (value, low, high) => Math.max(low, Math.min(value, high));
  const encoder = new TextEncoder();
  const byteLength = (text) => encoder.encode(text).length;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
      .join("-");
  }

  // Only web links leave this file as href or src: no javascript:, data: or the like.
  function safeUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (invalid) {
      return null;
    }
  }

  // A step's `url` glob: `*` is any run of characters. Like the content service, a glob that
  // starts with "/" is matched against the path (and query), any other against the whole URL.
  function urlMatches(glob, href) {
    const source = glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
    const pattern = new RegExp("^" + source.join(".*") + "$");
    if (!glob.startsWith("/")) return pattern.test(href);
    const url = new URL(href);
    return pattern.test(url.pathname + url.search) || pattern.test(url.pathname);
  }

  // A checklist event counts when every property it names is present with an equal value.
  function includesProperties(properties, wanted) {
    return Object.keys(plain(wanted)).every((key) => properties[key] === wanted[key]);
  }

  const STRINGS = {
    en: {
      next: "Next", back: "Back", done: "Done", close: "Close", notNow: "Not now",
      submit: "Submit", gotIt: "Got it", learnMore: "Learn more", open: "Open",
      notLikely: "Not likely", veryLikely: "Very likely", thanks: "Thank you for your answer!",
      checklist: "Getting started", stepOf: "{n} of {total}", itemDone: "(done)",
    },
    ja: {
      next: "次へ", back: "戻る", done: "完了", close: "閉じる", notNow: "あとで",
      submit: "送信", gotIt: "OK", learnMore: "詳しく見る", open: "開く",
      notLikely: "まったく思わない", veryLikely: "非常にそう思う",
      thanks: "ご回答ありがとうございました。",
      checklist: "はじめにやること", stepOf: "{n} / {total}", itemDone: "（完了）",
    },
  };

  function t(key, values) {
    const text = STRINGS[config.locale][key] || STRINGS.en[key];
    return values ? text.replace(/\{(\w+)\}/g, (_, name) => values[name]) : text;
  }

  /* ------------------------------------------------------------------------------------------
   * Stored state: one JSON document per write key, re-read on every change so that several
   * tabs of the same app share it.
   * ---------------------------------------------------------------------------------------- */

  const store = (() => {
    let local = null;
    try {
      local = window.localStorage;
      local.setItem("kizuna:probe", "1");
      local.removeItem("kizuna:probe");
    } catch (unavailable) {
      local = null; // private modes and sandboxed frames: keep state for this page only
    }
    const memory = {};
    return {
      get(key) {
        try {
          const raw = local ? local.getItem(key) : memory[key];
          return raw == null ? null : JSON.parse(raw);
        } catch (unreadable) {
          return null;
        }
      },
      set(key, value) {
        try {
          const raw = JSON.stringify(value);
          if (local) local.setItem(key, raw);
          else memory[key] = raw;
          return true;
        } catch (full) {
          return false;
        }
      },
    };
  })();

  const stateKey = () => "kizuna:" + config.writeKey + ":state";
  const queueKey = () => "kizuna:" + config.writeKey + ":queue";

  // What this browser remembers of one experience; the content service reads it as `history`.
  const HISTORY_ENTRY = {
    shownAt: null, completedAt: null, dismissedAt: null, sessionId: null, step: null,
    answeredAt: null,
  };

  function freshState(optedOut) {
    return {
      anonymousId: uuid(),
      userId: null,
      traits: {},
      groupId: null,
      groupTraits: {},
      firstSeenAt: nowIso(),
      sessionId: null,
      lastActivityAt: 0,
      lastSurveyAt: null,
      history: {},
      // Kept for this browser only, never sent: why an experience stopped early, the goal event
      // each quick win waits for, and each checklist's items and progress.
      dismissals: {},
      goals: {},
      checklists: {},
      optedOut: Boolean(optedOut),
    };
  }

  function loadState() {
    const saved = store.get(stateKey());
    if (isObject(saved) && saved.anonymousId) return Object.assign(freshState(), saved);
    const state = freshState();
    saveState(state);
    return state;
  }

  function saveState(state) {
    if (!store.set(stateKey(), state)) warnOnce("state", "could not save state to localStorage");
  }

  function updateState(change) {
    const state = loadState();
    change(state);
    saveState(state);
    return state;
  }

  const isOptedOut = () => loadState().optedOut;

  // The session id, rolled over after 30 minutes without a call. Only calls count as activity
  // (`touch`): polling the content service must not keep a session alive.
  function session(state, touch) {
    const now = Date.now();
    if (!state.sessionId || now - state.lastActivityAt > SESSION_IDLE_MS) {
      state.sessionId = "s-" + now;
      state.lastActivityAt = now;
    }
    if (touch) state.lastActivityAt = now;
    return state.sessionId;
  }

  function remember(experienceId, changes) {
    return updateState((state) => {
      state.history[experienceId] = Object.assign(
        {}, HISTORY_ENTRY, state.history[experienceId], changes);
      if (changes.completedAt) delete state.goals[experienceId]; // a quick win waits no more
    });
  }

  /* ------------------------------------------------------------------------------------------
   * Calls: each becomes a message in the localStorage queue, made (messageId, timestamp) when
   * called, so that a resend is the same message and ingest counts it once.
   * ---------------------------------------------------------------------------------------- */

  let pageReferrer = document.referrer;
  let lastHref = location.href;

  function pageContext() {
    return { url: location.href, path: location.pathname, title: document.title,
             referrer: pageReferrer };
  }

  function record(type, fields) {
    if (isOptedOut()) return;
    const state = updateState((s) => session(s, true));
    const context = { page: pageContext(), userAgent: navigator.userAgent,
                      locale: navigator.language, library: LIBRARY };
    if (state.groupId) context.groupId = state.groupId;
    if (Object.keys(state.traits).length) context.traits = state.traits;
    const message = Object.assign({ type, messageId: uuid(), timestamp: nowIso() }, fields,
                                  { anonymousId: state.anonymousId, context });
    if (state.userId) message.userId = state.userId;
    enqueue(message);
  }

  function identify(userId, traits) {
    if (isObject(userId)) [userId, traits] = [null, userId];
    const id = userId == null || userId === "" ? null : String(userId);
    let switched = false;
    const state = updateState((s) => {
      if (id && s.userId && id !== s.userId) {
        // Someone else logged in without reset(): forget the previous user's traits, account
        // and history, but this is still the same browser.
        switched = true;
        Object.assign(s, freshState(s.optedOut), { anonymousId: s.anonymousId });
      }
      if (id) s.userId = id;
      s.traits = Object.assign({}, s.traits, plain(traits));
    });
    if (switched) forgetScreen();
    record("identify", { traits: state.traits });
    targetingChanged();
  }

  function group(groupId, traits) {
    if (isObject(groupId)) [groupId, traits] = [null, groupId];
    const id = groupId == null || groupId === "" ? null : String(groupId);
    const state = updateState((s) => {
      if (id && s.groupId && id !== s.groupId) s.groupTraits = {};
      if (id) s.groupId = id;
      s.groupTraits = Object.assign({}, s.groupTraits, plain(traits));
    });
    if (!state.groupId) return warn("group() needs an account id");
    record("group", { groupId: state.groupId, traits: state.groupTraits });
    targetingChanged();
  }

  function track(event, properties) {
    if (typeof event !== "string" || !event) return warn("track() needs an event name");
    const props = plain(properties);
    record("track", { event, properties: props });
    if (!isOptedOut()) onTracked(event, props);
  }

  function page(name, properties) {
    if (isObject(name)) [name, properties] = [undefined, name];
    const context = pageContext();
    const defaults = { url: context.url, path: context.path, title: context.title,
                       referrer: context.referrer, search: location.search };
    record("page", {
      name: typeof name === "string" ? name : undefined,
      properties: Object.assign(defaults, plain(properties)),
    });
    onPageView();
  }

  function reset() {
    forgetScreen();
    updateState((s) => Object.assign(s, freshState(s.optedOut)));
    shownThisPage = false;
    targetingChanged();
  }

  function optOut() {
    updateState((s) => { s.optedOut = true; });
    saveQueue([]);
    forgetScreen();
    clearTimeout(flushTimer);
    flushTimer = 0;
    clearTimeout(pollTimer);
    clearTimeout(fetchTimer);
  }

  /* ------------------------------------------------------------------------------------------
   * Delivery: batches to POST {api-host}/v1/batch at most every second; exponential backoff
   * while ingest is unreachable or busy; sendBeacon when the page is hidden.
   * ---------------------------------------------------------------------------------------- */

  let flushTimer = 0;
  let lastFlushAt = 0;
  let retryDelay = 0; // 0 while ingest answers; else the last wait, doubled on each failure
  let retryAt = 0; // while backing off, no send before this time
  let flushing = null; // the round of sends under way
  let inFlight = null; // {ids} of the batch being sent
  let beaconed = new Set(); // ids sent by beacon since the page was last visible

  function loadQueue() {
    const queue = store.get(queueKey());
    return Array.isArray(queue) ? queue : [];
  }

  function saveQueue(queue) {
    // A full localStorage loses the oldest calls rather than the newest.
    while (!store.set(queueKey(), queue) && queue.length) {
      queue.splice(0, Math.ceil(queue.length / 2));
      warnOnce("quota", "localStorage is full: dropped the oldest queued calls");
    }
  }

  function removeFromQueue(ids) {
    saveQueue(loadQueue().filter((message) => !ids.has(message.messageId)));
  }

  function enqueue(message) {
    let size;
    try {
      size = byteLength(JSON.stringify(message));
    } catch (unserializable) {
      return warn("dropped a " + message.type + " call that is not JSON", unserializable);
    }
    if (size > MESSAGE_MAX_BYTES) {
      return warn("dropped a " + message.type + " call over 32 KB (ingest refuses it)");
    }
    const queue = loadQueue();
    queue.push(message);
    if (queue.length > QUEUE_MAX_MESSAGES) {
      queue.splice(0, queue.length - QUEUE_MAX_MESSAGES);
      warnOnce("overflow", "over " + QUEUE_MAX_MESSAGES + " calls queued: dropped the oldest");
    }
    saveQueue(queue);
    scheduleFlush();
  }

  function scheduleFlush() {
    if (flushTimer || !config.apiHost) return;
    const wait = Math.max(lastFlushAt + FLUSH_EVERY_MS, retryAt) - Date.now();
    flushTimer = setTimeout(guard(() => {
      flushTimer = 0;
      flush();
    }), Math.max(0, wait));
  }

  // One round: batch after batch until the queue is empty or a send fails. Never rejects.
  function flush() {
    if (flushing) return flushing;
    if (!config.apiHost || isOptedOut()) return Promise.resolve();
    lastFlushAt = Date.now();
    flushing = sendAll()
      .catch((error) => {
        warn("could not send calls", error);
        return false;
      })
      .then(() => {
        flushing = null;
        if (!loadQueue().length) return;
        clearTimeout(flushTimer); // a call made meanwhile must not cut a backoff short
        flushTimer = 0;
        scheduleFlush();
      });
    return flushing;
  }

  async function sendAll() {
    const tried = new Set(); // never the same message twice in one round
    for (;;) {
      const batch = nextBatch(loadQueue(), BATCH_MAX_BYTES, tried);
      if (!batch.length) return true;
      batch.forEach((message) => tried.add(message.messageId));
      if (!(await send(batch))) return false;
    }
  }

  function nextBatch(queue, maxBytes, skip) {
    const batch = [];
    let bytes = 200; // the envelope: writeKey, sentAt
    for (const message of queue) {
      if (skip.has(message.messageId)) continue;
      const size = byteLength(JSON.stringify(message)) + 1;
      if (batch.length && (batch.length >= BATCH_MAX_MESSAGES || bytes + size > maxBytes)) break;
      batch.push(message);
      bytes += size;
    }
    return batch;
  }

  function envelope(batch) {
    return JSON.stringify({ writeKey: config.writeKey, sentAt: nowIso(), batch });
  }

  // True when the batch is done with (accepted, or refused for good); false to retry later.
  async function send(batch) {
    const body = envelope(batch);
    const ids = new Set(batch.map((message) => message.messageId));
    // keepalive lets the request outlive the page, but browsers cap it at 64 KB.
    const keepalive = byteLength(body) <= KEEPALIVE_MAX_BYTES;
    let response;
    inFlight = { ids };
    try {
      response = await fetch(config.apiHost + "/v1/batch", {
        method: "POST",
        body,
        keepalive,
        credentials: "omit",
        headers: { "Content-Type": "text/plain" }, // a "simple" request: no CORS preflight
      });
    } catch (unreachable) {
      return backOff(null);
    } finally {
      inFlight = null;
    }
    const status = response.status;
    if (status === 408 || status === 429 || status >= 500) return backOff(response);
    retryDelay = retryAt = 0; // ingest answered
    if (response.ok) {
      removeFromQueue(ids);
      return true;
    }
    // Any other 4xx would be refused again: drop the batch rather than block the queue on it.
    const detail = await response.text().catch(() => "");
    warn("ingest refused " + batch.length + " call(s) with HTTP " + status, detail);
    removeFromQueue(ids);
    return true;
  }

  function backOff(response) {
    retryDelay = Math.min(retryDelay ? retryDelay * 2 : RETRY_MIN_MS, RETRY_MAX_MS);
    const retryAfter = response && Number(response.headers.get("Retry-After"));
    if (retryAfter > 0) retryDelay = clamp(retryAfter * 1000, retryDelay, RETRY_MAX_MS);
    retryAt = Date.now() + retryDelay;
    return false;
  }

  // The page is hidden and may never come back: copies of the queue go by sendBeacon. A beacon
  // has no answer, so the messages stay queued until a send is acknowledged (the next visit
  // sends them again; ingest counts each messageId once). While ingest is failing a beacon is
  // pointless: the queue simply waits.
  function handOff() {
    if (!config.apiHost || !navigator.sendBeacon || retryDelay || isOptedOut()) return;
    // visibilitychange and pagehide both come on the way out: one beacon per message.
    const skip = new Set([...beaconed, ...(inFlight ? inFlight.ids : [])]);
    const url = config.apiHost + "/v1/batch";
    for (;;) {
      const batch = nextBatch(loadQueue(), KEEPALIVE_MAX_BYTES, skip);
      if (!batch.length) return;
      const blob = new Blob([envelope(batch)], { type: "text/plain" });
      if (!navigator.sendBeacon(url, blob)) return; // over the browser's quota
      batch.forEach((message) => {
        skip.add(message.messageId);
        beaconed.add(message.messageId);
      });
    }
  }

  /* ------------------------------------------------------------------------------------------
   * What to show: GET {content-host}/sdk/v1/experiences on every page view, after identify and
   * group, and every 30 s while the page is visible, with ETag / If-None-Match.
   * ---------------------------------------------------------------------------------------- */

  let fetchTimer = 0;
  let pollTimer = 0;
  let pollSeconds = POLL_DEFAULT_S;
  let lastFetchAt = 0;
  let fetching = false;
  let fetchAgain = false;
  let etag = null;
  let lastAnswer = null;
  let generation = 0; // bumped when the user or their traits change: older answers are stale
  let shownThisPage = false;

  function targetingChanged() {
    generation++;
    etag = null;
    requestExperiences();
  }

  // Coalesces the calls of one moment (identify + group + page on load) into one request.
  function requestExperiences() {
    if (!config.contentHost || isOptedOut()) return;
    clearTimeout(fetchTimer);
    fetchTimer = setTimeout(guard(fetchExperiences), 25);
  }

  const MAX_HISTORY = 200;

  function experienceContext() {
    const state = updateState((s) => session(s, false));
    // Null fields are left out, and only the latest MAX_HISTORY entries are sent: what the
    // browser remembers only grows.
    const history = {};
    const entries = Object.entries(state.history)
      .sort((a, b) => String(b[1].shownAt || "").localeCompare(String(a[1].shownAt || "")))
      .slice(0, MAX_HISTORY);
    for (const [id, entry] of entries) {
      history[id] = {};
      for (const key of Object.keys(HISTORY_ENTRY)) {
        if (entry[key] != null) history[id][key] = entry[key];
      }
    }
    return {
      url: location.href,
      userId: state.userId,
      anonymousId: state.anonymousId,
      traits: state.traits,
      groupId: state.groupId,
      groupTraits: state.groupTraits,
      firstSeenAt: state.firstSeenAt,
      sessionId: state.sessionId,
      shownThisPage,
      lastSurveyAt: state.lastSurveyAt,
      history,
    };
  }

  async function fetchExperiences() {
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    const asked = generation;
    let response = null;
    let answer = null;
    try {
      // POSTed as text/plain: a context outgrows what a URL can carry.
      const body = JSON.stringify({ writeKey: config.writeKey, context: experienceContext() });
      response = await fetch(config.contentHost + "/sdk/v1/experiences", {
        method: "POST",
        body,
        headers: Object.assign({ "Content-Type": "text/plain" },
                               etag ? { "If-None-Match": etag } : {}),
        cache: "no-store", // the ETag is ours to handle, not the HTTP cache's
        credentials: "omit",
      });
      if (response.ok) answer = await response.json();
    } catch (unreachable) {
      // offline, or the content service is down: the next poll asks again
    }
    lastFetchAt = Date.now();
    fetching = false;
    try {
      if (asked !== generation) fetchAgain = true; // asked for someone else: ask again
      else if (response && response.status === 304 && lastAnswer) applyExperiences(lastAnswer);
      else if (answer) {
        etag = response.headers.get("ETag");
        lastAnswer = answer;
        applyExperiences(answer);
      } else if (response && !response.ok && response.status !== 304) {
        warnOnce("content" + response.status, "the content service answered HTTP " +
          response.status + " for /sdk/v1/experiences");
      }
    } catch (error) {
      warn("could not show experiences", error);
    } finally {
      if (fetchAgain) {
        fetchAgain = false;
        requestExperiences();
      }
      schedulePoll();
    }
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (document.visibilityState === "hidden" || isOptedOut()) return;
    const wait = Math.max(0, lastFetchAt + pollSeconds * 1000 - Date.now());
    pollTimer = setTimeout(guard(requestExperiences), wait);
  }

  function applyExperiences(answer) {
    if (!isObject(answer) || isOptedOut()) return;
    if (!document.body) {
      document.addEventListener("DOMContentLoaded", guard(() => applyExperiences(answer)),
                                { once: true });
      return;
    }
    const seconds = Number(answer.pollAfterSeconds);
    pollSeconds = seconds > 0 ? clamp(seconds, 5, 3600) : POLL_DEFAULT_S;
    const all = Array.isArray(answer.experiences) ? answer.experiences : [];
    const experiences = all.filter((e) =>
      isObject(e) && typeof e.id === "string" && isObject(e.content) && typeof e.kind === "string");
    showChecklists(experiences.filter((e) => e.kind === "checklist"));
    const auto = experiences.find((e) => e.auto && e.kind !== "checklist");
    if (!auto || current || shownThisPage || stoppedThisSession(auto.id)) return;
    if (VIEWS[auto.kind]) open(auto);
    else warnOnce("kind:" + auto.kind, "cannot show experiences of kind " + auto.kind);
  }

  // One whose target never appeared is not tried again in this session.
  function stoppedThisSession(experienceId) {
    const state = loadState();
    const stopped = state.dismissals[experienceId];
    return Boolean(stopped && stopped.sessionId === state.sessionId);
  }

  /* ------------------------------------------------------------------------------------------
   * Page views: on load, and whenever pushState, replaceState, popstate or hashchange change
   * the URL.
   * ---------------------------------------------------------------------------------------- */

  function watchNavigation() {
    for (const name of ["pushState", "replaceState"]) {
      const original = history[name];
      if (typeof original !== "function") continue;
      history[name] = function () {
        const result = original.apply(this, arguments);
        urlMayHaveChanged();
        return result;
      };
    }
    window.addEventListener("popstate", urlMayHaveChanged);
    window.addEventListener("hashchange", urlMayHaveChanged);
  }

  // After the current task, so that the app has had its chance to set the new title.
  const urlMayHaveChanged = guard(() => setTimeout(guard(() => {
    if (location.href === lastHref) return;
    pageReferrer = lastHref;
    lastHref = location.href;
    page();
  }), 0));

  function onPageView() {
    shownThisPage = false;
    if (current && current.onPage) current.onPage();
    requestExperiences();
  }

  function watchVisibility() {
    document.addEventListener("visibilitychange", guard(() => {
      if (document.visibilityState === "hidden") {
        clearTimeout(pollTimer);
        handOff();
      } else {
        beaconed = new Set();
        schedulePoll();
        scheduleFlush();
      }
    }));
    window.addEventListener("pagehide", guard(handOff));
  }

  /* ------------------------------------------------------------------------------------------
   * Tracked events that finish things: a quick win's goal, a checklist's items.
   * ---------------------------------------------------------------------------------------- */

  function onTracked(event, properties) {
    completeGoals(event);
    completeItems((item) => Boolean(item.event) && item.event.name === event &&
                            includesProperties(properties, item.event.properties));
  }

  function experienceProperties(experience) {
    return { experience_id: experience.id, experience_kind: experience.kind,
             experience_version: experience.version };
  }

  function emit(experience, event, properties) {
    track(event, Object.assign(experienceProperties(experience), properties));
  }

  // A quick win is completed by its goal event, tracked while or after it was shown.
  function completeGoals(event) {
    for (const [id, goal] of Object.entries(loadState().goals)) {
      if (goal.event !== event || !(id in loadState().goals)) continue; // done meanwhile
      if (current && current.experience.id === id) complete(current);
      else completedElsewhere({ id, kind: goal.kind, version: goal.version });
    }
  }

  function completedElsewhere(experience) {
    remember(experience.id, { completedAt: nowIso() });
    emit(experience, "experience_completed");
    completeTutorialItems();
  }

  // After an experience is completed: the items that wait for it as their tutorial.
  const completeTutorialItems = () => completeItems(() => false);

  const tutorialDone = (item, state) => Boolean(item.tutorial_id) &&
    Boolean(state.history[item.tutorial_id] && state.history[item.tutorial_id].completedAt);

  // Marks the checklist items `matches` picks, and those whose tutorial is completed, as done;
  // then reports them, and each checklist whose last item this was. With `ordered` only the
  // first open item can be done.
  function completeItems(matches) {
    const reports = [];
    const state = loadState();
    for (const [id, list] of Object.entries(state.checklists)) {
      if (list.completedAt) continue;
      const reachable = () => {
        const open = list.items.filter((item) => !list.done.includes(item.id));
        return list.ordered ? open.slice(0, 1) : open;
      };
      const mark = (item) => {
        list.done.push(item.id);
        reports.push({ checklist: { id, kind: "checklist", version: list.version },
                       itemId: item.id });
      };
      reachable().filter((item) => matches(item)).forEach(mark);
      let item;
      while ((item = reachable().find((candidate) => tutorialDone(candidate, state)))) mark(item);
      if (list.done.length >= list.items.length && reports.some((r) => r.checklist.id === id)) {
        list.completedAt = nowIso();
        state.history[id] = Object.assign({}, HISTORY_ENTRY, state.history[id],
                                          { completedAt: list.completedAt });
        reports.push({ checklist: { id, kind: "checklist", version: list.version } });
      }
    }
    if (!reports.length) return;
    saveState(state);
    for (const { checklist: list, itemId } of reports) {
      if (itemId) emit(list, "checklist_item_completed", { item_id: itemId });
      else {
        emit(list, "experience_completed");
        completeTutorialItems();
      }
    }
    renderChecklist();
  }

  /* ------------------------------------------------------------------------------------------
   * The screen: one host element, one open shadow root, our own styles inside it.
   * ---------------------------------------------------------------------------------------- */

  const CSS = `
:host{all:initial}
.kz{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Hiragino Sans","Noto Sans JP",Meiryo,sans-serif;color:#1f2937}
.kz *{box-sizing:border-box}
.kz [hidden]{display:none!important}
.kz-backdrop{position:fixed;inset:0;z-index:10;background:rgba(17,24,39,.45)}
.kz-card{position:fixed;z-index:11;width:320px;max-width:calc(100vw - 16px);padding:20px;border-radius:12px;background:#fff;color:#1f2937;box-shadow:0 12px 32px rgba(17,24,39,.2),0 2px 6px rgba(17,24,39,.08);animation:kz-in .15s ease-out}
.kz-modal,.kz-center{top:50%;left:50%;transform:translate(-50%,-50%)}
.kz-modal{width:480px;max-width:calc(100vw - 32px);max-height:calc(100vh - 32px);overflow:auto;padding:24px}
.kz-ring{position:fixed;z-index:9;border-radius:8px;box-shadow:0 0 0 3px #4f46e5;pointer-events:none}
.kz-title{margin:0 28px 8px 0;font-size:17px;font-weight:600;line-height:1.35}
.kz-body{overflow-wrap:anywhere}
.kz-body>:first-child{margin-top:0}
.kz-body>:last-child{margin-bottom:0}
.kz-body img{max-width:100%;height:auto}
.kz-body a{color:#4f46e5}
.kz-image{display:block;width:100%;margin-bottom:16px;border-radius:8px}
.kz-actions{display:flex;flex-wrap:wrap;align-items:center;justify-content:flex-end;gap:8px;margin-top:16px}
.kz-progress{margin-right:auto;font-size:12px;color:#6b7280}
.kz-btn{display:inline-flex;align-items:center;justify-content:center;min-height:34px;padding:6px 14px;border:1px solid #d1d5db;border-radius:8px;background:#fff;color:#1f2937;font:inherit;font-weight:500;text-decoration:none;cursor:pointer}
.kz-btn:hover{background:#f3f4f6}
.kz-btn:disabled{opacity:.5;cursor:default}
.kz-primary,.kz-primary:hover,.kz-btn[aria-pressed=true]{border-color:#4f46e5;background:#4f46e5;color:#fff}
.kz-close{position:absolute;top:10px;right:10px;width:30px;height:30px;padding:0;border:0;border-radius:6px;background:none;color:#6b7280;font:20px/1 system-ui,sans-serif;cursor:pointer}
.kz-close:hover{background:#f3f4f6;color:#111827}
.kz :focus-visible{outline:2px solid #4f46e5;outline-offset:2px}
.kz-banner{position:fixed;top:0;left:0;right:0;z-index:8;display:flex;flex-wrap:wrap;align-items:center;gap:6px 16px;padding:10px 56px 10px 20px;background:#312e81;color:#fff;box-shadow:0 2px 8px rgba(0,0,0,.15);animation:kz-in .15s ease-out}
.kz-banner .kz-body{flex:1 1 240px}
.kz-banner .kz-body a{color:inherit}
.kz-banner .kz-close{top:50%;transform:translateY(-50%);color:#c7d2fe}
.kz-banner .kz-close:hover{background:rgba(255,255,255,.15);color:#fff}
.kz-scale{display:flex;gap:4px}
.kz-scale .kz-btn{flex:1;min-width:0;padding:6px 0}
.kz-ends{display:flex;justify-content:space-between;margin-top:4px;font-size:12px;color:#6b7280}
.kz-field{display:block;margin-top:14px}
.kz-input{display:block;width:100%;margin-top:6px;padding:8px 10px;border:1px solid #d1d5db;border-radius:8px;font:inherit;color:inherit;resize:vertical}
.kz-choice{display:flex;align-items:center;gap:8px;padding:4px 0;cursor:pointer}
.kz-launcher{position:fixed;right:20px;bottom:20px;z-index:7;gap:6px;border-radius:999px;box-shadow:0 6px 20px rgba(17,24,39,.2)}
.kz-panel{right:20px;bottom:72px;z-index:7}
.kz-bar{height:6px;overflow:hidden;border-radius:3px;background:#e5e7eb}
.kz-bar>span{display:block;height:100%;background:#16a34a}
.kz-list{margin:12px 0 0;padding:0;list-style:none}
.kz-item{display:flex;align-items:flex-start;gap:10px;padding:6px 0}
.kz-check{flex:none;width:20px;height:20px;border:2px solid #d1d5db;border-radius:50%;color:#fff;font-size:12px;line-height:16px;text-align:center}
.kz-done .kz-check{border-color:#16a34a;background:#16a34a}
.kz-done .kz-label{color:#6b7280;text-decoration:line-through}
.kz-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@keyframes kz-in{from{opacity:0}}
@media (prefers-reduced-motion:reduce){.kz *{animation:none!important}}
`;

  let host = null;
  let shadow = null;
  let layer = null;

  function screen() {
    if (!layer) {
      host = document.createElement("div");
      host.id = "kizuna-root";
      // A stacking context above the app, taking no room and no clicks of its own.
      host.style.cssText = "position:fixed;top:0;left:0;width:0;height:0;z-index:2147483000";
      shadow = host.attachShadow({ mode: "open" });
      // A constructed sheet passes a strict style-src CSP; <style> is the fallback.
      if (shadow.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        shadow.adoptedStyleSheets = [sheet];
      } else {
        shadow.append(h("style", null, CSS));
      }
      layer = h("div", { class: "kz", lang: config.locale });
      shadow.append(layer);
    }
    if (!host.isConnected) document.body.append(host); // an app may have replaced <body>
    return layer;
  }

  // h("button", {class: "kz-btn", onclick}, "Next"). Strings become text nodes, never markup;
  // handlers are listeners, never on* attributes.
  function h(tag, props, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (name.startsWith("on")) element.addEventListener(name.slice(2), guard(value));
      else if (name === "text") element.textContent = value;
      else element.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child != null && child !== false) element.append(child);
    }
    return element;
  }

  // The one place markup is parsed: body_html, which the content service has sanitized. A
  // <template> parses it inert (nothing loads or runs), and scrubbing again costs little.
  function richText(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const fragment = template.content;
    fragment.querySelectorAll("script,style,iframe,object,embed,link,meta,base,form")
      .forEach((element) => element.remove());
    for (const element of fragment.querySelectorAll("*")) {
      for (const { name, value } of Array.from(element.attributes)) {
        const isUrl = /^(href|src|action|formaction|xlink:href)$/i.test(name);
        if (/^on/i.test(name) || (isUrl && !safeUrl(value) && !/^mailto:/i.test(value))) {
          element.removeAttribute(name);
        }
      }
    }
    return h("div", { class: "kz-body" }, fragment);
  }

  let idCount = 0;
  const newId = (prefix) => "kz-" + prefix + "-" + ++idCount;

  const button = (label, onclick, primary) =>
    h("button", { type: "button", class: primary ? "kz-btn kz-primary" : "kz-btn", onclick },
      label);

  const closeButton = (onclick) =>
    h("button", { type: "button", class: "kz-close", "aria-label": t("close"), onclick }, "×");

  // A link styled as a button; off-site links open in a new tab without access to this one.
  function linkButton(label, url, onclick, newTab) {
    return h("a", { class: "kz-btn kz-primary", href: url, target: newTab ? "_blank" : null,
                    rel: newTab ? "noopener" : null, onclick }, label);
  }

  const isSameOrigin = (url) => new URL(url).origin === location.origin;

  // A scope owns what one piece of UI put on screen (elements, listeners, timers, observers)
  // and takes it all away again, in reverse order.
  function createScope() {
    const undo = [];
    return {
      closed: false,
      defer(fn) {
        undo.push(fn);
      },
      add(element) {
        screen().append(element);
        undo.push(() => element.remove());
        return element;
      },
      listen(target, type, fn, options) {
        const listener = guard(fn);
        target.addEventListener(type, listener, options);
        undo.push(() => target.removeEventListener(type, listener, options));
      },
      later(fn, ms) {
        const timer = setTimeout(guard(fn), ms);
        undo.push(() => clearTimeout(timer));
      },
      dispose() {
        this.closed = true;
        while (undo.length) {
          try {
            undo.pop()();
          } catch (error) {
            warn("cleanup failed", error);
          }
        }
      },
    };
  }

  /* ------------------------------------------------------------------------------------------
   * Keyboard and focus: Esc closes; a modal takes the focus, keeps Tab inside and gives the
   * focus back when it closes.
   * ---------------------------------------------------------------------------------------- */

  let activeModal = null;

  const FOCUSABLE = 'a[href],button:not([disabled]),input:not([disabled]),' +
    'textarea:not([disabled]),select:not([disabled]),[tabindex]:not([tabindex="-1"])';

  const focusables = (root) => Array.from(root.querySelectorAll(FOCUSABLE))
    .filter((element) => element.getClientRects().length > 0);

  function deepActiveElement() {
    let element = document.activeElement;
    while (element && element.shadowRoot && element.shadowRoot.activeElement) {
      element = element.shadowRoot.activeElement;
    }
    return element;
  }

  // Where a modal's focus starts: the answer to give, else the main action, else anything.
  const FIRST_FOCUS = "textarea,input,.kz-scale .kz-btn,.kz-primary:not([disabled])";

  function focusInto(dialog) {
    const target = dialog.querySelector(FIRST_FOCUS) || focusables(dialog)[0] || dialog;
    if (target === dialog) dialog.tabIndex = -1;
    target.focus({ preventScroll: true });
  }

  // Shows `dialog` as a modal: a backdrop, the page hidden from assistive technology and made
  // inert (aria-modal alone is not honoured everywhere), the focus inside.
  function showModal(x, scope, dialog) {
    const previous = deepActiveElement();
    scope.defer(() => {
      x.modal = false;
      if (activeModal === dialog) activeModal = null;
      if (previous && previous.isConnected && previous.focus) {
        previous.focus({ preventScroll: true });
      }
    });
    scope.add(h("div", { class: "kz-backdrop" }));
    dialog.classList.add("kz-modal");
    dialog.setAttribute("aria-modal", "true");
    scope.add(dialog);
    isolate(scope);
    x.modal = true;
    activeModal = dialog;
    focusInto(dialog);
  }

  function isolate(scope) {
    const hidden = [];
    for (const element of Array.from(document.body.children)) {
      if (element === host || element.inert || element.getAttribute("aria-hidden") === "true") {
        continue;
      }
      element.setAttribute("aria-hidden", "true");
      element.inert = true;
      hidden.push(element);
    }
    scope.defer(() => hidden.forEach((element) => {
      element.removeAttribute("aria-hidden");
      element.inert = false;
    }));
  }

  function onKeydown(event) {
    if (event.key === "Escape" || event.key === "Esc") onEscape(event);
    else if (event.key === "Tab" && activeModal) keepTabInside(activeModal, event);
  }

  function keepTabInside(dialog, event) {
    const items = focusables(dialog);
    if (!items.length) return event.preventDefault();
    const first = items[0];
    const last = items[items.length - 1];
    const active = shadow.activeElement;
    const inside = Boolean(active) && dialog.contains(active);
    if (event.shiftKey ? !inside || active === first : !inside || active === last) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    }
  }

  function onEscape(event) {
    const focus = document.activeElement;
    const focusInside = focus === host;
    // Outside a modal, Esc belongs to the app unless the focus is ours or nobody's.
    const ours = focusInside || !focus || focus === document.body;
    const inPanel = focusInside && checklist && checklist.panel.contains(shadow.activeElement);
    if (checklist && checklist.open && !activeModal && (inPanel || (ours && !current))) {
      return togglePanel(false);
    }
    if (!current || current.finished) return;
    if (current.modal || ours) {
      if (current.modal) event.stopPropagation(); // it was meant for the dialog on top
      requestDismiss(current, "escape");
    }
  }

  // A modal keeps the focus even when the app moves it programmatically.
  function onFocusIn(event) {
    if (activeModal && event.target !== host) focusInto(activeModal);
  }

  /* ------------------------------------------------------------------------------------------
   * Experiences on screen: at most one shown by itself (`current`), plus the checklist
   * launcher.
   * ---------------------------------------------------------------------------------------- */

  let current = null;

  const VIEWS = {
    welcome: showMessage,
    announcement: showMessage,
    link: showLink,
    tour: showSteps,
    quick_win: showSteps,
    walkthrough: showSteps,
    survey: showSurvey,
  };

  function open(experience) {
    const x = Object.assign(createScope(), {
      experience,
      modal: false,
      finished: false, // completed or dismissed: no second report while it closes
      wasShown: false,
      onPage: null, // called on a page view while open
      onDismiss: null, // a view that reports a dismissal its own way
    });
    current = x;
    try {
      VIEWS[experience.kind](x);
    } catch (error) {
      warn("could not show experience " + experience.id, error);
      close(x);
    }
  }

  function close(x) {
    if (!x.closed) x.dispose();
    if (current === x) current = null;
  }

  // Takes everything off the screen without a report: another user, or opted out.
  function forgetScreen() {
    if (current) close(current);
    removeChecklist();
  }

  // The experience is on screen: remember it and say so, once (not again when it resumes on a
  // later page).
  function markShown(x) {
    if (x.wasShown) return;
    x.wasShown = true;
    shownThisPage = true;
    const { id, kind, version, content, resume } = x.experience;
    if (resume) return;
    const at = nowIso();
    updateState((s) => {
      // Shown anew: an earlier dismissal or completion no longer describes it.
      s.history[id] = Object.assign({}, HISTORY_ENTRY, s.history[id], {
        shownAt: at, sessionId: session(s, false), dismissedAt: null, completedAt: null,
      });
      if (kind === "survey") s.lastSurveyAt = at;
      if (kind === "quick_win" && content.goal_event) {
        s.goals[id] = { event: content.goal_event, kind, version };
      }
    });
    emit(x.experience, "experience_shown");
  }

  // `closeAfterMs`: leave it on screen a moment (a thank-you) or until a link has been followed.
  function complete(x, closeAfterMs) {
    finish(x, "experience_completed", null, { completedAt: nowIso() }, closeAfterMs);
    completeTutorialItems();
  }

  function dismiss(x, reason) {
    finish(x, "experience_dismissed", { reason }, { dismissedAt: nowIso() });
  }

  function requestDismiss(x, reason) {
    if (x.onDismiss) x.onDismiss(reason);
    else dismiss(x, reason);
  }

  function finish(x, event, properties, changes, closeAfterMs) {
    if (x.finished) return;
    x.finished = true;
    remember(x.experience.id, changes);
    emit(x.experience, event, properties);
    if (closeAfterMs == null) close(x);
    else x.later(() => close(x), closeAfterMs);
  }

  // Title, image, author HTML and close button: what most kinds share.
  function card(x, { className, title, image, html, parts }) {
    const titleId = newId("title");
    const imageUrl = safeUrl(image);
    return h("div", {
      class: "kz-card" + (className ? " " + className : ""),
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": title ? titleId : null,
      "aria-label": title ? null : x.experience.name || null,
    },
    closeButton(() => requestDismiss(x, "close_button")),
    imageUrl && h("img", { class: "kz-image", src: imageUrl, alt: "" }),
    title && h("h2", { class: "kz-title", id: titleId, text: title }),
    html && richText(html),
    parts);
  }

  // welcome and announcement: a modal with an optional call to action.
  function showMessage(x) {
    const c = x.experience.content;
    const url = safeUrl(c.cta_url);
    const label = c.cta_label || (url ? t("learnMore") : "");
    let action;
    if (url) action = linkButton(label, url, () => complete(x, 0), !isSameOrigin(url));
    else action = button(label || t("gotIt"), () => complete(x), true);
    const actions = h("div", { class: "kz-actions" },
      x.experience.kind === "welcome" && button(t("notNow"), () => dismiss(x, "not_now")),
      action);
    showModal(x, x, card(x, { title: c.title, image: c.image_url, html: c.body_html,
                              parts: actions }));
    markShown(x);
  }

  // link: a banner across the top, or a modal; the link opens in a new tab.
  function showLink(x) {
    const c = x.experience.content;
    const url = safeUrl(c.url);
    if (!url) {
      warn("experience " + x.experience.id + " has no usable url");
      return close(x);
    }
    const link = linkButton(c.label || t("open"), url, () => complete(x, 0), true);
    if (c.display === "modal") {
      const actions = h("div", { class: "kz-actions" },
        button(t("notNow"), () => dismiss(x, "not_now")), link);
      showModal(x, x, card(x, { title: c.title, html: c.body_html, parts: actions }));
    } else {
      link.className = "kz-btn";
      x.add(h("div", { class: "kz-banner", role: "region", "aria-label": c.title || null },
        c.title && h("strong", { text: c.title }),
        c.body_html && richText(c.body_html),
        link,
        closeButton(() => dismiss(x, "close_button"))));
    }
    markShown(x);
  }

  /* ------------------------------------------------------------------------------------------
   * tour, quick_win, walkthrough: steps, each anchored to its target or a modal in the centre.
   * ---------------------------------------------------------------------------------------- */

  function showSteps(x) {
    const experience = x.experience;
    const steps = Array.isArray(experience.content.steps) ? experience.content.steps : [];
    if (!steps.length) return close(x);
    const saved = loadState().history[experience.id];
    const resumeAt = experience.resume && saved && Number.isInteger(saved.step) ? saved.step : 0;
    let index = clamp(resumeAt, 0, steps.length - 1);
    let view = null; // the scope of the step on screen
    let target = null;
    const counts = () => ({ step: index, step_count: steps.length });
    x.defer(() => view && view.dispose());

    function go(i, quietly) {
      if (view) view.dispose();
      view = createScope();
      index = i;
      target = null;
      remember(experience.id, { step: i }); // a later page resumes here
      const step = steps[i];
      if (!step.target) return render(step, null, quietly);
      waitForElement(view, step.target,
        (element) => render(step, element, quietly),
        () => selectorMissing(step));
    }

    function render(step, element, quietly) {
      target = element;
      const byButtons = step.advance !== "click" && step.advance !== "input" &&
        step.advance !== "url";
      const last = index === steps.length - 1;
      const footer = h("div", { class: "kz-actions" },
        steps.length > 1 && h("span", { class: "kz-progress",
                                        text: t("stepOf", { n: index + 1, total: steps.length }) }),
        byButtons && index > 0 && button(t("back"), () => go(index - 1)),
        byButtons && button(last ? t("done") : t("next"), next, true));
      const box = card(x, { title: step.title, html: step.body_html, parts: footer });
      if (element) {
        element.scrollIntoView({ block: "center" });
        anchor(view, box, element, step.placement);
      } else if (byButtons) {
        showModal(x, view, box);
      } else {
        // Waiting for the user to do something on the page: the page must stay usable.
        box.classList.add("kz-center");
        view.add(box);
      }
      markShown(x);
      if (!quietly) emit(experience, "experience_step_shown", counts());
      if (step.advance === "click" || step.advance === "input") {
        // Listening on the document: the app may re-render the target while we wait.
        view.listen(document, step.advance, (event) => {
          if (fromTarget(event, step.target)) next();
        }, true);
      }
      if (step.advance === "url") advanceOnUrl();
    }

    function next() {
      if (x.finished || x.closed) return;
      emit(experience, "experience_step_completed", counts());
      if (index < steps.length - 1) return go(index + 1);
      if (experience.kind !== "quick_win") return complete(x);
      // A quick win is completed by its goal event, which may come later; the steps are over.
      remember(experience.id, { step: null });
      close(x);
    }

    function advanceOnUrl() {
      const step = steps[index];
      if (step.advance !== "url" || !step.url || !urlMatches(step.url, location.href)) {
        return false;
      }
      next();
      return true;
    }

    function selectorMissing(step) {
      if (x.finished) return;
      x.finished = true;
      emit(experience, "experience_selector_missing", { step: index, selector: step.target });
      // Recorded as shown and dismissed in this session: to the content service's frequency
      // rules an experience never shown is always due, and it would be offered (and stopped)
      // again on every page instead of the next one in line.
      const at = nowIso();
      updateState((s) => {
        const sessionId = session(s, false);
        const seen = s.history[experience.id] || {};
        s.history[experience.id] = Object.assign({}, HISTORY_ENTRY, seen,
          { shownAt: seen.shownAt || at, sessionId, dismissedAt: at });
        s.dismissals[experience.id] = { reason: "selector_missing", at, sessionId };
      });
      close(x);
    }

    // A page view: maybe the URL a step waits for; maybe the app re-rendered the target.
    x.onPage = () => {
      if (!advanceOnUrl() && target && !target.isConnected) go(index, true);
    };
    go(index);
  }

  function fromTarget(event, selector) {
    const path = event.composedPath ? event.composedPath() : [event.target];
    if (path.includes(host)) return false;
    return path.some((node) => {
      try {
        return node.nodeType === 1 && node.matches(selector);
      } catch (invalid) {
        return false;
      }
    });
  }

  // Calls `found` with the first visible element for `selector`, now or once it appears;
  // `missing` when it has not after 5 seconds (or the selector is not valid CSS).
  function waitForElement(scope, selector, found, missing) {
    const find = () => {
      const element = document.querySelector(selector);
      return element && element.getClientRects().length ? element : null;
    };
    let element;
    try {
      element = find();
    } catch (invalid) {
      return missing();
    }
    if (element) return found(element);
    const observer = new MutationObserver(guard(() => {
      const element = find();
      if (!element) return;
      stop();
      found(element);
    }));
    const timer = setTimeout(guard(() => {
      stop();
      missing();
    }), TARGET_WAIT_MS);
    const stop = () => {
      observer.disconnect();
      clearTimeout(timer);
    };
    observer.observe(document.documentElement, {
      childList: true, subtree: true, attributes: true,
      attributeFilter: ["class", "style", "hidden"],
    });
    scope.defer(stop);
  }

  // Keeps `box` beside `element` (and a ring around it) as the page scrolls and resizes.
  function anchor(scope, box, element, placement) {
    const ring = scope.add(h("div", { class: "kz-ring", "aria-hidden": "true" }));
    scope.add(box);
    const place = () => position(box, ring, element, placement);
    let frame = 0;
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(guard(() => {
        frame = 0;
        place();
      }));
    };
    scope.listen(window, "scroll", schedule, { capture: true, passive: true });
    scope.listen(window, "resize", schedule);
    if (window.ResizeObserver) {
      const observer = new ResizeObserver(schedule);
      observer.observe(element);
      observer.observe(document.documentElement);
      scope.defer(() => observer.disconnect());
    }
    scope.defer(() => cancelAnimationFrame(frame));
    place();
  }

  const GAP = 12;
  const MARGIN = 8;
  const OPPOSITE = { top: "bottom", bottom: "top", left: "right", right: "left" };

  function position(box, ring, element, placement) {
    const r = element.getBoundingClientRect();
    Object.assign(ring.style, { top: r.top - 4 + "px", left: r.left - 4 + "px",
                                width: r.width + 8 + "px", height: r.height + 8 + "px" });
    const viewWidth = document.documentElement.clientWidth;
    const viewHeight = document.documentElement.clientHeight;
    const width = box.offsetWidth;
    const height = box.offsetHeight;
    const room = { top: r.top - height - GAP, bottom: viewHeight - r.bottom - height - GAP,
                   left: r.left - width - GAP, right: viewWidth - r.right - width - GAP };
    let side = placement === "center" || placement in room ? placement : "bottom";
    if (side !== "center" && room[side] < MARGIN) {
      // No room on the asked side: the opposite one, else any that fits.
      side = [OPPOSITE[side], "bottom", "top", "right", "left"]
        .find((s) => room[s] >= MARGIN) || side;
    }
    let top = (viewHeight - height) / 2;
    let left = (viewWidth - width) / 2;
    if (side === "top" || side === "bottom") {
      top = side === "top" ? r.top - height - GAP : r.bottom + GAP;
      left = r.left + r.width / 2 - width / 2;
    } else if (side === "left" || side === "right") {
      left = side === "left" ? r.left - width - GAP : r.right + GAP;
      top = r.top + r.height / 2 - height / 2;
    }
    box.style.top = clamp(top, MARGIN, viewHeight - height - MARGIN) + "px";
    box.style.left = clamp(left, MARGIN, viewWidth - width - MARGIN) + "px";
    box.setAttribute("data-placement", side);
  }

  /* ------------------------------------------------------------------------------------------
   * survey: NPS, free text, single or multiple choice; a modal.
   * ---------------------------------------------------------------------------------------- */

  function showSurvey(x) {
    const c = x.experience.content;
    const type = c.question_type;
    const form = h("div", { class: "kz-survey-form" });
    const submit = button(t("submit"), null, true);
    const actions = h("div", { class: "kz-actions" },
      button(t("notNow"), () => requestDismiss(x, "not_now")));
    let score = null;
    let answerField = null; // the text answer's field, labelled by the question

    function answer(properties, closeAfterMs) {
      if (x.finished) return;
      emit(x.experience, "survey_answered", Object.assign({ question_type: type }, properties));
      remember(x.experience.id, { answeredAt: nowIso() });
      form.replaceChildren(h("p", { role: "status", text: t("thanks") }));
      actions.remove();
      complete(x, closeAfterMs);
    }

    // Submit, enabled once the answer is ready; `read` gives survey_answered's properties.
    function withSubmit(isReady, read) {
      const update = guard(() => { submit.disabled = !isReady(); });
      update();
      form.addEventListener("input", update);
      form.addEventListener("change", update);
      submit.addEventListener("click", guard(() => isReady() && answer(read(), 1500)));
      actions.append(submit);
    }

    // Without a label of its own, a field is labelled by the card's title (the question).
    function textField(label) {
      const id = newId("field");
      const field = h("textarea", { id, class: "kz-input", rows: 3 });
      if (label) form.append(h("label", { class: "kz-field", for: id, text: label }));
      form.append(field);
      return field;
    }

    if (type === "nps") {
      const scores = [];
      for (let n = 0; n <= 10; n++) {
        scores.push(h("button", { type: "button", class: "kz-btn", "aria-pressed": "false",
                                  onclick: () => pick(n) }, String(n)));
      }
      form.append(h("div", { class: "kz-scale", role: "group", "aria-label": c.question }, scores),
                  h("div", { class: "kz-ends" },
                    h("span", { text: t("notLikely") }), h("span", { text: t("veryLikely") })));
      let followUp = null;
      const pick = (n) => {
        score = n;
        scores.forEach((b, i) => b.setAttribute("aria-pressed", String(i === n)));
        if (!c.follow_up) return answer({ score }, 1500);
        if (followUp) return;
        followUp = textField(c.follow_up);
        withSubmit(() => true, () => Object.assign({ score },
          followUp.value.trim() ? { follow_up: followUp.value.trim() } : {}));
        followUp.focus();
      };
      // A score given before closing is an answer: keep it rather than lose it.
      x.onDismiss = (reason) => (score == null ? dismiss(x, reason) : answer({ score }));
    } else if (type === "text") {
      const field = (answerField = textField(null));
      withSubmit(() => field.value.trim() !== "", () => ({ answer: field.value.trim() }));
    } else if (type === "single" || type === "multiple") {
      const name = newId("choice");
      const inputs = (Array.isArray(c.choices) ? c.choices : []).map((choice) =>
        h("input", { type: type === "single" ? "radio" : "checkbox", name, value: choice }));
      form.append(h("div", { role: type === "single" ? "radiogroup" : "group",
                             "aria-label": c.question },
        inputs.map((input) => h("label", { class: "kz-choice" }, input,
                                h("span", { text: input.value })))));
      const chosen = () => inputs.filter((input) => input.checked).map((input) => input.value);
      withSubmit(() => chosen().length > 0, () => ({
        answer: type === "single" ? chosen()[0] : chosen(),
      }));
    } else {
      warn("unknown survey question_type " + type);
      return close(x);
    }

    const box = card(x, { title: c.question, parts: [form, actions] });
    if (answerField) answerField.setAttribute("aria-labelledby", box.getAttribute("aria-labelledby"));
    showModal(x, x, box);
    markShown(x);
  }

  /* ------------------------------------------------------------------------------------------
   * checklist: a launcher at the bottom right ("done/total") that opens a panel of items.
   * ---------------------------------------------------------------------------------------- */

  let checklist = null; // {experience, scope, launcher, panel, open}

  function showChecklists(experiences) {
    rememberChecklists(experiences);
    completeTutorialItems(); // tutorials completed since
    const experience = experiences[0]; // the server's order; one launcher is enough
    if (checklist && (!experience || checklist.experience.id !== experience.id)) {
      removeChecklist();
    }
    if (!experience) return;
    if (checklist) {
      checklist.experience = experience;
      return renderChecklist();
    }
    const scope = createScope();
    const panelId = newId("panel");
    checklist = {
      experience,
      scope,
      open: false,
      launcher: scope.add(h("button", {
        type: "button", class: "kz-btn kz-primary kz-launcher", "aria-expanded": "false",
        "aria-controls": panelId, onclick: () => togglePanel(),
      })),
      panel: scope.add(h("div", { id: panelId, class: "kz-card kz-panel", role: "region",
                                  hidden: true })),
    };
    renderChecklist();
    noteChecklistShown(experience);
  }

  // Definitions are kept, so that an item's event counts on pages the checklist is not on.
  function rememberChecklists(experiences) {
    if (!experiences.length) return;
    updateState((s) => {
      for (const experience of experiences) {
        const items = Array.isArray(experience.content.items) ? experience.content.items : [];
        const known = s.checklists[experience.id] || { done: [], completedAt: null };
        const ids = items.map((item) => item.id);
        s.checklists[experience.id] = {
          version: experience.version,
          ordered: Boolean(experience.content.ordered),
          items: items.map((item) => ({ id: item.id, event: item.event || null,
                                        tutorial_id: item.tutorial_id || null })),
          done: known.done.filter((id) => ids.includes(id)),
          completedAt: known.completedAt,
        };
      }
    });
  }

  // experience_shown once per session: the launcher stays on screen page after page.
  function noteChecklistShown(experience) {
    let first = false;
    updateState((s) => {
      const seen = s.history[experience.id];
      const sessionId = session(s, false);
      if (seen && seen.sessionId === sessionId) return;
      first = true;
      s.history[experience.id] = Object.assign({}, HISTORY_ENTRY, seen,
                                               { shownAt: nowIso(), sessionId });
    });
    if (first) emit(experience, "experience_shown");
  }

  function renderChecklist() {
    if (!checklist) return;
    const { experience, launcher, panel } = checklist;
    const items = Array.isArray(experience.content.items) ? experience.content.items : [];
    const saved = loadState().checklists[experience.id] || { done: [] };
    const isDone = (item) => saved.done.includes(item.id);
    const done = items.filter(isDone).length;
    const title = experience.content.title || t("checklist");
    const titleId = newId("title");
    launcher.replaceChildren(h("span", { "aria-hidden": "true", text: "✓" }),
                             done + "/" + items.length);
    launcher.setAttribute("aria-label", title + " " + done + "/" + items.length);
    const bar = h("span");
    bar.style.width = (items.length ? (100 * done) / items.length : 0) + "%";
    const hadFocus = Boolean(shadow.activeElement) && panel.contains(shadow.activeElement);
    panel.setAttribute("aria-labelledby", titleId);
    panel.replaceChildren(
      closeButton(() => togglePanel(false)),
      h("h2", { class: "kz-title", id: titleId, text: title }),
      h("div", { class: "kz-bar", role: "progressbar", "aria-label": title,
                 "aria-valuemin": 0, "aria-valuemax": items.length, "aria-valuenow": done }, bar),
      h("ul", { class: "kz-list" }, items.map((item) =>
        h("li", { class: isDone(item) ? "kz-item kz-done" : "kz-item" },
          h("span", { class: "kz-check", "aria-hidden": "true", text: isDone(item) ? "✓" : "" }),
          h("span", { class: "kz-label", text: item.label }),
          isDone(item) && h("span", { class: "kz-sr", text: " " + t("itemDone") })))));
    if (hadFocus) panel.querySelector(".kz-close").focus(); // re-rendered under the user's focus
  }

  function togglePanel(open) {
    if (!checklist) return;
    checklist.open = open === undefined ? !checklist.open : open;
    checklist.panel.hidden = !checklist.open;
    checklist.launcher.setAttribute("aria-expanded", String(checklist.open));
    (checklist.open ? checklist.panel.querySelector(".kz-close") : checklist.launcher).focus();
  }

  function removeChecklist() {
    if (!checklist) return;
    checklist.scope.dispose();
    checklist = null;
  }

  /* ------------------------------------------------------------------------------------------
   * The public object, and start-up.
   * ---------------------------------------------------------------------------------------- */

  const api = {
    identify: guard(identify),
    group: guard(group),
    track: guard(track),
    page: guard(page),
    reset: guard(reset),
    optOut: guard(optOut),
    // `kizuna.push(["track", "Saved", {}])` keeps working after load, as it did before.
    push: guard((call) => {
      if (!Array.isArray(call) || !CALLS.includes(call[0])) return warn("unknown call", call);
      api[call[0]].apply(api, call.slice(1));
    }),
  };

  // For tests; not public API.
  Object.defineProperties(api, {
    _flush: {
      value: () => {
        clearTimeout(flushTimer);
        flushTimer = 0;
        return flush().then(() => undefined, () => undefined);
      },
    },
    _state: {
      value: () => Object.assign(JSON.parse(JSON.stringify(loadState())), { queue: loadQueue() }),
    },
  });

  function start() {
    const existing = window.kizuna;
    if (existing && !Array.isArray(existing) && existing._state) return; // loaded twice
    const queued = Array.isArray(existing) ? existing.slice() : [];
    window.kizuna = api;
    if (!config.writeKey) {
      warn("the script tag has no data-write-key: nothing will be sent");
      for (const name of CALLS.concat("push")) api[name] = () => undefined;
      return;
    }
    if (!config.apiHost) warn("the script tag has no data-api-host: calls stay queued");
    loadState(); // the first visit makes the anonymous id and firstSeenAt
    queued.forEach((call) => api.push(call));
    // The page view on load, after the queued identify and group so that it carries them.
    if (!queued.some((call) => Array.isArray(call) && call[0] === "page")) api.page();
    watchNavigation();
    watchVisibility();
    document.addEventListener("keydown", guard(onKeydown), true);
    document.addEventListener("focusin", guard(onFocusIn), true);
    scheduleFlush(); // whatever an earlier visit left queued
  }

  guard(start)();
})(window, document);
