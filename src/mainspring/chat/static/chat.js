// Mainspring chat: a minimal client of /api/v1/chat (REST for history, WebSocket for live).
// No build step, no dependency. The protocol is documented in docs/chat.md.
"use strict";

const api = "/api/v1";
const state = {
  token: null, me: null, socket: null, rooms: new Map(), current: null,
  seen: new Map(), // room id -> highest seq received (reconnect with since=...)
  typing: new Map(), retry: 500,
  unacked: new Map(), // client id -> its send frame, resent when the server asks to retry
  backoff: 1, // doubles with each refusal in a row (retry_after x backoff, with jitter)
};
const $ = (id) => document.getElementById(id);

async function call(method, path, body) {
  const response = await fetch(api + path, {
    method,
    headers: Object.assign(
      { "Content-Type": "application/json" },
      state.token ? { Authorization: "Bearer " + state.token } : {},
    ),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json();
  if (!response.ok) throw new Error(data.detail || data.title || response.statusText);
  return data;
}

function newId() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
}

// --- rooms ----------------------------------------------------------------------------------

async function loadRooms() {
  const mine = await call("GET", "/chat/rooms?page_size=100");
  state.rooms = new Map(mine.items.map((room) => [room.id, room]));
  renderRooms();
  const directory = await call("GET", "/chat/rooms/public?page_size=50");
  const list = $("directory");
  list.replaceChildren();
  for (const room of directory.items.filter((r) => !state.rooms.has(r.id))) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = "Join " + room.name;
    button.addEventListener("click", async () => {
      await call("POST", `/chat/rooms/${room.id}/join`);
      await loadRooms();
      await openRoom(room.id);
    });
    item.append(button);
    list.append(item);
  }
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren();
  for (const room of state.rooms.values()) {
    const item = document.createElement("li");
    item.className = room.id === state.current ? "active" : "";
    const button = document.createElement("button");
    button.textContent = room.name;
    button.dataset.room = room.id;
    if (room.unread > 0 && room.id !== state.current) {
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = room.unread;
      button.append(badge);
    }
    button.addEventListener("click", () => openRoom(room.id));
    item.append(button);
    list.append(item);
  }
}

async function openRoom(roomId) {
  state.current = roomId;
  const room = state.rooms.get(roomId);
  $("room-name").textContent = room ? room.name : "";
  $("messages").replaceChildren();
  $("typing").textContent = "";
  $("composer").hidden = false;
  const history = await call("GET", `/chat/rooms/${roomId}/messages?limit=50`);
  history.items.forEach(showMessage);
  markRead();
  renderRooms();
  $("body").focus();
}

function markRead() {
  const room = state.rooms.get(state.current);
  const seq = state.seen.get(state.current) || 0;
  if (!room || seq <= room.last_read_seq) return;
  room.last_read_seq = seq;
  room.unread = 0;
  send({ type: "read", room_id: state.current, seq });
}

// --- messages -------------------------------------------------------------------------------

function showMessage(message) {
  const seen = state.seen.get(message.room_id) || 0;
  if (message.seq > seen) state.seen.set(message.room_id, message.seq);
  if (message.room_id !== state.current) {
    const room = state.rooms.get(message.room_id);
    if (room && message.seq > seen && message.sender.username !== state.me) {
      room.unread += 1;
      renderRooms();
    }
    return;
  }
  const list = $("messages");
  let item = list.querySelector(`li[data-seq="${message.seq}"]`);
  if (!item) {
    item = document.createElement("li");
    item.dataset.seq = message.seq;
    // Keep the list in sequence order whatever order events arrive in.
    const after = [...list.children].find((li) => Number(li.dataset.seq) > message.seq);
    list.insertBefore(item, after || null);
  }
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = message.sender.username;
  const body = document.createElement("span");
  body.className = "body";
  if (message.deleted) body.textContent = "(deleted)";
  else body.innerHTML = message.body_html; // rendered and sanitised by the server
  item.replaceChildren(who, body);
  list.scrollTop = list.scrollHeight;
}

function showTyping() {
  const now = Date.now();
  const names = [...state.typing.entries()]
    .filter(([key, at]) => key.startsWith(state.current + ":") && now - at < 4000)
    .map(([key]) => key.split(":")[1]);
  $("typing").textContent = names.length ? names.join(", ") + " is typing…" : "";
}
setInterval(showTyping, 1000);

// --- the socket -----------------------------------------------------------------------------

function send(message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(message));
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${api}/chat/ws`, [
    "mainspring.chat", "bearer." + state.token,
  ]);
  state.socket = socket;
  $("status").textContent = "connecting";
  socket.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    switch (data.type) {
      case "ready":
        state.retry = 500;
        send({ type: "subscribe", since: Object.fromEntries(state.seen) });
        break;
      case "subscribed":
        state.backoff = 1;
        $("status").textContent = "online";
        break;
      case "message": case "edit": case "ack":
        if (data.type === "ack") {
          state.unacked.delete(data.client_id);
          state.backoff = 1;
        }
        showMessage(data.message);
        if (data.message.room_id === state.current) markRead();
        break;
      case "delete":
        if (data.room_id === state.current) {
          const item = $("messages").querySelector(`li[data-seq="${data.seq}"] .body`);
          if (item) item.textContent = "(deleted)";
        }
        break;
      case "typing":
        if (data.username !== state.me) {
          state.typing.set(data.room_id + ":" + data.username, Date.now());
          showTyping();
        }
        break;
      case "room_added": case "room_removed":
        loadRooms();
        break;
      case "error":
        if (data.retry_after !== undefined) {
          // The server's database was busy: resend the same frame (a send keeps its
          // client_id, so it is never stored twice; a subscribe is repeatable).
          const again = data.client_id !== undefined
            ? state.unacked.get(data.client_id)
            : { type: "subscribe", since: Object.fromEntries(state.seen) };
          const delay = data.retry_after * 1000 * state.backoff * (0.5 + Math.random());
          state.backoff = Math.min(state.backoff * 2, 30);
          if (again) setTimeout(() => send(again), delay);
        } else {
          console.warn("chat error", data);
        }
        break;
    }
  });
  socket.addEventListener("close", () => {
    $("status").textContent = "reconnecting";
    setTimeout(connect, state.retry);
    state.retry = Math.min(state.retry * 2, 10000);
  });
}
setInterval(() => send({ type: "ping" }), 25000);

// --- forms ----------------------------------------------------------------------------------

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const session = await call("POST", "/auth/login", {
      identifier: $("identifier").value, password: $("password").value,
    });
    state.token = session.access_token;
    const me = await call("GET", "/users/me");
    state.me = me.username;
    $("me").textContent = me.username;
    $("login").hidden = true;
    $("app").hidden = false;
    await loadRooms();
    connect();
  } catch (error) {
    $("login-error").textContent = error.message;
  }
});

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = $("body").value.trim();
  if (!body || !state.current) return;
  const message = { type: "send", room_id: state.current, client_id: newId(), body };
  state.unacked.set(message.client_id, message);
  send(message);
  $("body").value = "";
});

let lastTyping = 0;
$("body").addEventListener("input", () => {
  if (Date.now() - lastTyping > 2000 && state.current) {
    lastTyping = Date.now();
    send({ type: "typing", room_id: state.current });
  }
});

$("new-room").addEventListener("submit", async (event) => {
  event.preventDefault();
  const room = await call("POST", "/chat/rooms", { kind: "public", name: $("new-room-name").value });
  $("new-room-name").value = "";
  await loadRooms();
  send({ type: "subscribe", rooms: [room.id] });
  await openRoom(room.id);
});
