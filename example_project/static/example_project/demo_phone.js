// The demo phone: shows the messages the console provider "sent", polling every 2 s.
// The page already lists them when it loads; this adds the ones that arrive later.
(function () {
  "use strict";
  var panel = document.getElementById("demo-phone");
  var list = document.getElementById("demo-phone-messages");
  if (!panel || !list || !window.fetch) { return; }
  var url = panel.getAttribute("data-url");
  var INTERVAL = 2000;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function render(message) {
    var item = element("li", "phone-message new");
    item.setAttribute("data-id", message.id);
    item.setAttribute("data-channel", message.channel);
    item.setAttribute("data-code", message.code);
    var meta = element("p", "meta");
    meta.appendChild(element("span", "", message.channel_label + " to " + message.to));
    var time = element("time", "", message.time);
    time.setAttribute("datetime", message.sent_at);
    meta.appendChild(time);
    item.appendChild(meta);
    item.appendChild(element("p", "text", message.text));
    var code = element("p", "code", "Code ");
    code.appendChild(element("strong", "", message.code));
    item.appendChild(code);
    return item;
  }

  function update(messages) {
    var shown = {};
    var keep = {};
    var items = list.querySelectorAll("li[data-id]");
    var i;
    for (i = 0; i < items.length; i += 1) { shown[items[i].getAttribute("data-id")] = items[i]; }
    for (i = 0; i < messages.length; i += 1) { keep[messages[i].id] = true; }
    // Insert only what is new (oldest first, each at the top): screen readers
    // then announce the new message, not the whole list again.
    for (i = messages.length - 1; i >= 0; i -= 1) {
      if (!shown[messages[i].id]) { list.insertBefore(render(messages[i]), list.firstChild); }
    }
    Object.keys(shown).forEach(function (id) {
      if (!keep[id]) { list.removeChild(shown[id]); }
    });
    var empty = list.querySelector("li.empty");
    if (empty && messages.length) { list.removeChild(empty); }
  }

  function poll() {
    if (document.hidden) { window.setTimeout(poll, INTERVAL); return; }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        update(data.messages || []);
        panel.setAttribute("data-polled", String(Date.now()));
        window.setTimeout(poll, INTERVAL);
      })
      .catch(function () { window.setTimeout(poll, INTERVAL * 3); });
  }

  window.setTimeout(poll, INTERVAL);
})();
