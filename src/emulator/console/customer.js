// Customer page: chats as a visitor on the CX-native web widget inbox (Flow B) through the
// control API, and polls the conversation for bot and agent replies.
"use strict";

const WIDGET_INBOX_ID = 2;
const chat = { id: null, lastTranscript: "" };
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
  const box = $("customer-error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

// The customer sees their own words, the bot's and the agents'; private notes never.
function renderMessage(message) {
  const kind = message.sender.type === "contact" ? "customer" : message.sender.type === "user" ? "agent" : "bot";
  const item = document.createElement("div");
  item.className = `message message--${kind}`;
  item.dataset.messageId = message.id;
  item.dataset.senderType = message.sender.type;
  item.dataset.kind = kind;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = kind === "customer" ? "You" : message.sender.name;
  const text = document.createElement("span");
  text.className = "content";
  text.textContent = message.content;
  item.append(who, text);
  const attributes = message.content_attributes || {};
  const items = attributes.items;
  if (Array.isArray(items)) {
    // As Chatwoot's widget: a click updates the bot's message (submitted_values) instead of
    // writing one, and an answered offer shows the pick and takes no other.
    const submitted = Array.isArray(attributes.submitted_values) ? attributes.submitted_values : [];
    const choices = document.createElement("div");
    choices.className = "choices";
    for (const choice of items) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.textContent = choice.title;
      if (submitted.some((picked) => picked.title === choice.title)) button.classList.add("choice--submitted");
      button.disabled = submitted.length > 0;
      button.addEventListener("click", () => pick(choice.title));
      choices.append(button);
    }
    item.append(choices);
  }
  return item;
}

async function refresh() {
  if (chat.id === null) return;
  try {
    const data = await call("GET", `/_control/conversations/${chat.id}`);
    const status = $("chat-status");
    status.textContent = data.conversation.status;
    status.dataset.status = data.conversation.status;
    const visible = data.messages.filter((m) => !m.private && m.message_type !== "activity");
    const signature = JSON.stringify(visible.map((m) => [m.id, (m.content_attributes || {}).submitted_values]));
    if (signature !== chat.lastTranscript) {
      chat.lastTranscript = signature;
      const log = $("chat-log");
      log.replaceChildren(...visible.map(renderMessage));
      log.scrollTop = log.scrollHeight;
    }
    showError(null);
  } catch (error) {
    showError(error);
  }
}

async function pick(title) {
  if (chat.id === null) return;
  try {
    await call("POST", `/_control/conversations/${chat.id}/select`, { title });
    await refresh();
  } catch (error) {
    showError(error);
  }
}

async function send(content) {
  if (!content || chat.id === null) return;
  try {
    await call("POST", `/_control/conversations/${chat.id}/incoming`, { content });
    await refresh();
  } catch (error) {
    showError(error);
  }
}

$("start-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const conversation = await call("POST", "/_control/conversations", {
      inbox_id: WIDGET_INBOX_ID,
      name: $("customer-name").value.trim() || "Visitor",
    });
    chat.id = conversation.id;
    chat.lastTranscript = "";
    $("conversation-id").textContent = String(conversation.id);
    $("chat-input").disabled = false;
    $("chat-send").disabled = false;
    $("chat-input").focus();
    await refresh();
  } catch (error) {
    showError(error);
  }
});

$("chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const content = $("chat-input").value.trim();
  $("chat-input").value = "";
  await send(content);
});

setInterval(refresh, 1000);
