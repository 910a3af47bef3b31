// The run console: plain browser JavaScript, no build step. It calls /v1 with the bearer token the user
// types once (kept in sessionStorage, for this tab only) and reads streams with the browser's native
// EventSource, which cannot send that header: each stream opens with a short-lived ticket for that one
// run, handed out by an authenticated call — the token itself never goes into a URL.

const TOKEN_KEY = "mesh.apiToken";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY) ?? "";

class ApiRefused extends Error {}

async function api(method, path, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new ApiRefused("the API refused the token");
  const payload = response.status === 204 ? undefined : await response.json();
  if (!response.ok) throw new Error(payload?.error?.message ?? `HTTP ${response.status}`);
  return payload;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

/** Asks for the token; the console stays hidden until the API accepts one (or needs none). */
async function authenticate() {
  try {
    await api("GET", "/v1/queues");
  } catch (error) {
    if (!(error instanceof ApiRefused)) throw error;
    $("console").hidden = true;
    $("token-form").hidden = false;
    $("api-state").textContent = "token required";
    if (token) $("token-error").textContent = "The API refused this token.";
    sessionStorage.removeItem(TOKEN_KEY);
    token = "";
    return false;
  }
  $("token-form").hidden = true;
  $("console").hidden = false;
  $("forget-token").hidden = !token;
  $("api-state").textContent = "connected";
  return true;
}

$("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  $("token").value = "";
  $("token-error").textContent = "";
  if (await authenticate()) {
    sessionStorage.setItem(TOKEN_KEY, token);
    refresh();
  }
});

$("forget-token").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  token = "";
  location.reload();
});

/** One run's stream: chunks by seq (each once, whatever reconnects repeat), then done. */
let watched;

function watch(runId) {
  watched?.close();
  const state = { runId, lastSeq: 0, done: false, source: undefined, closed: false };
  watched = {
    close() {
      state.closed = true;
      state.source?.close();
    },
  };
  $("stream-run").textContent = runId;
  $("stream-output").textContent = "";
  $("stream-chunks").textContent = "0";
  $("stream-status").textContent = "waiting";

  const open = async () => {
    if (state.closed) return;
    let ticket;
    try {
      ticket = await api("POST", `/v1/runs/${encodeURIComponent(runId)}/stream-ticket`);
    } catch (error) {
      $("stream-connection").textContent = `failed: ${error.message}`;
      return;
    }
    // The ticket's URL resumes where this page is, should it have to open a new EventSource.
    const url = state.lastSeq > 0 ? `${ticket.stream}&lastEventId=${state.lastSeq}` : ticket.stream;
    const source = new EventSource(url);
    state.source = source;
    source.onopen = () => {
      $("stream-connection").textContent = "open";
    };
    source.addEventListener("chunk", (event) => {
      const chunk = JSON.parse(event.data);
      if (chunk.seq !== state.lastSeq + 1) return;
      state.lastSeq = chunk.seq;
      $("stream-output").textContent += chunk.text;
      $("stream-chunks").textContent = String(state.lastSeq);
      $("stream-status").textContent = "streaming";
    });
    source.addEventListener("done", (event) => {
      const done = JSON.parse(event.data);
      state.done = true;
      source.close();
      $("stream-status").textContent = done.status;
      $("stream-connection").textContent = "closed (done)";
      refresh();
    });
    source.onerror = () => {
      if (state.done) return;
      if (source.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself, sending Last-Event-ID.
        $("stream-connection").textContent = "reconnecting";
      } else {
        // Given up (the ticket expired, or the server refused): a new ticket, from where we are.
        $("stream-connection").textContent = "reopening";
        setTimeout(open, 1000);
      }
    };
  };
  open();
}

$("run-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("run-error").textContent = "";
  try {
    const run = await api("POST", `/v1/threads/${encodeURIComponent($("thread").value)}/runs`, {
      input: $("input").value,
    });
    watch(run.runId);
    refresh();
  } catch (error) {
    $("run-error").textContent = error.message;
  }
});

async function refresh() {
  try {
    const [{ queues }, { executors }, { runs }] = await Promise.all([
      api("GET", "/v1/queues"),
      api("GET", "/v1/executors"),
      api("GET", "/v1/runs?limit=15"),
    ]);
    const queueRows = $("queues");
    queueRows.replaceChildren();
    for (const queue of queues) {
      const versions = queue.versions.length > 0 ? queue.versions : [{ version: "—", ...queue, stranded: 0 }];
      for (const load of versions) {
        const row = queueRows.insertRow();
        cell(row, queue.name);
        cell(row, load.version);
        cell(row, String(load.enqueued));
        cell(row, String(load.pending));
        cell(row, String(load.listeners));
        cell(row, String(load.stranded), load.stranded > 0 ? "stranded" : undefined);
      }
    }
    const executorRows = $("executors");
    executorRows.replaceChildren();
    for (const executor of executors) {
      const row = executorRows.insertRow();
      cell(row, executor.executorId);
      cell(row, executor.role);
      cell(row, executor.version);
      cell(row, executor.listenQueues === null ? "all" : executor.listenQueues.join(", ") || "none");
      cell(row, new Date(executor.lastSeen).toLocaleTimeString());
    }
    const runRows = $("recent-runs");
    runRows.replaceChildren();
    for (const run of runs) {
      const row = runRows.insertRow();
      cell(row, run.runId);
      cell(row, run.threadId);
      cell(row, run.status);
      cell(row, new Date(run.createdAt).toLocaleTimeString());
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "watch";
      button.addEventListener("click", () => watch(run.runId));
      cell(row, "").append(button);
    }
    $("api-state").textContent = "connected";
  } catch (error) {
    if (error instanceof ApiRefused) {
      await authenticate();
      return;
    }
    $("api-state").textContent = `unreachable: ${error.message}`;
  }
}

if (await authenticate()) refresh();
setInterval(() => {
  if (!$("console").hidden) refresh();
}, 2000);
