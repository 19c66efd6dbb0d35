// Agent console: polls the control API, shows conversations and the selected transcript, and
// lets a named human agent reply, add private notes, resolve, reopen or hand back to the bot.
"use strict";

const state = { selected: null, lastTranscript: "" };
const $ = (id) => document.getElementById(id);

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${method} ${path} answered ${response.status}`);
  return data;
}

function showError(error) {
  const box = $("console-error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

// The kind decides the look: customer, bot, human agent, or private note.
function messageKind(message) {
  if (message.private) return "note";
  if (message.sender && message.sender.type === "contact") return "customer";
  if (message.sender && message.sender.type === "user") return "agent";
  return "bot";
}

function renderMessage(message) {
  const kind = messageKind(message);
  const item = document.createElement("div");
  item.className = `message message--${kind}`;
  item.dataset.messageId = message.id;
  item.dataset.senderType = message.sender ? message.sender.type : "";
  item.dataset.private = String(Boolean(message.private));
  item.dataset.kind = kind;
  const who = document.createElement("span");
  who.className = "who";
  const label = { customer: "Customer", bot: "Bot", agent: "Agent", note: "Private note" }[kind];
  who.textContent = `${label} · ${message.sender ? message.sender.name : ""} · ${new Date(message.created_at).toLocaleTimeString()}`;
  const text = document.createElement("span");
  text.className = "content";
  text.textContent = message.content;
  item.append(who, text);
  const items = message.content_attributes && message.content_attributes.items;
  if (Array.isArray(items)) {
    const choices = document.createElement("div");
    choices.className = "choices";
    for (const choice of items) {
      const chip = document.createElement("span");
      chip.className = "choice";
      chip.textContent = choice.title;
      choices.append(chip);
    }
    item.append(choices);
  }
  return item;
}

function renderList(conversations) {
  const list = $("conversation-list");
  list.replaceChildren();
  $("conversation-empty").hidden = conversations.length > 0;
  for (const conversation of conversations) {
    const item = document.createElement("li");
    item.className = "conversation-item" + (conversation.id === state.selected ? " selected" : "");
    item.dataset.conversationId = conversation.id;
    item.dataset.status = conversation.status;
    const title = document.createElement("div");
    const status = document.createElement("span");
    status.className = "status";
    status.dataset.status = conversation.status;
    status.textContent = conversation.status;
    title.append(`#${conversation.id} ${conversation.contact_name || "?"} `, status);
    const preview = document.createElement("div");
    preview.className = "preview";
    const last = conversation.messages && conversation.messages[0];
    preview.textContent = last ? last.content : "(no messages)";
    item.append(title, preview);
    item.addEventListener("click", () => select(conversation.id));
    list.append(item);
  }
}

function renderDetail(data) {
  const conversation = data.conversation;
  $("selected-conversation-title").textContent =
    `#${conversation.id} · ${conversation.contact_name || "?"} · inbox ${conversation.inbox_id}`;
  const status = $("selected-status");
  status.textContent = conversation.status;
  status.dataset.status = conversation.status;
  $("btn-resolve").disabled = conversation.status === "resolved";
  $("btn-reopen").disabled = conversation.status === "open";
  $("btn-hand-back").disabled = conversation.status === "pending";
  $("reply-text").disabled = false;
  $("reply-send").disabled = false;
  const signature = JSON.stringify(data.messages.map((m) => m.id));
  if (signature === state.lastTranscript) return;
  state.lastTranscript = signature;
  const transcript = $("transcript");
  transcript.replaceChildren(...data.messages.map(renderMessage));
  transcript.scrollTop = transcript.scrollHeight;
}

async function refresh() {
  try {
    const data = await call("GET", "/_control/conversations");
    renderList(data.conversations);
    if (state.selected !== null) renderDetail(await call("GET", `/_control/conversations/${state.selected}`));
    showError(null);
  } catch (error) {
    showError(error);
  }
}

function select(id) {
  state.selected = id;
  state.lastTranscript = "";
  refresh();
}

async function act(action) {
  if (state.selected === null) return;
  try {
    await call("POST", `/_control/conversations/${state.selected}/${action}`);
    await refresh();
  } catch (error) {
    showError(error);
  }
}

$("btn-resolve").addEventListener("click", () => act("resolve"));
$("btn-reopen").addEventListener("click", () => act("reopen"));
$("btn-hand-back").addEventListener("click", () => act("hand-back"));
$("reply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const content = $("reply-text").value.trim();
  if (!content || state.selected === null) return;
  try {
    await call("POST", `/_control/conversations/${state.selected}/reply`, {
      agent: $("agent-name").value.trim() || "Agent",
      content,
      private: $("reply-private").checked,
    });
    $("reply-text").value = "";
    await refresh();
  } catch (error) {
    showError(error);
  }
});
$("reply-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("reply-form").requestSubmit();
  }
});

refresh();
setInterval(refresh, 1000);
