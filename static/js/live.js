// Live prices: says whether the page's stream is live, and stops its polling while it is.
// Without the stream (it failed, or the server says it is unavailable) the page polls as before.
(function () {
  "use strict";
  let live = false;

  function say(state, text) {
    const element = document.getElementById("live-status");
    if (!element) return;
    element.hidden = false;
    element.dataset.state = state;
    element.textContent = text;
  }

  document.addEventListener("htmx:sseOpen", function () {
    live = true;
    say("live", "Live prices");
  });
  document.addEventListener("htmx:sseError", function () {
    live = false;
    say("polling", "Live prices lost: refreshing every 30 seconds");
  });
  document.addEventListener("htmx:sseClose", function (event) {
    if (event.detail && event.detail.type === "message") {
      live = false;
      say("polling", "Live prices unavailable: refreshing every 30 seconds");
    }
  });
  // Polled elements (data-live-poll) skip their poll while the stream pushes their prices.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (live && event.detail.elt.hasAttribute("data-live-poll")) {
      event.preventDefault();
    }
  });
})();
