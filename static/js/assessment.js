// Live totals on the assessment form. The server's scale registry does the scoring: each
// change posts the answers to the scores endpoint and swaps in the panel it renders.
// Without JavaScript the form still works: "Update totals" re-renders the page.
(function () {
  "use strict";
  const form = document.querySelector("form[data-scores-url]");
  if (!form) return;
  const isItem = (name) => /^(irls|cows|gad7)_/.test(name || "");
  let timer = null;
  let inFlight = null;

  async function refresh() {
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    try {
      const response = await fetch(form.dataset.scoresUrl, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Requested-With": "fetch" },
        credentials: "same-origin",
        signal: inFlight.signal,
      });
      if (response.ok) {
        document.getElementById("scores").outerHTML = await response.text();
      }
    } catch (error) {
      if (error.name !== "AbortError") console.warn("Totals not updated:", error);
    }
  }

  form.addEventListener("change", (event) => {
    if (!isItem(event.target.name)) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, 80);
  });

  form.querySelectorAll("[data-no-js]").forEach((el) => el.classList.add("d-none"));
  form.querySelectorAll("[data-clear-scale]").forEach((button) => {
    button.classList.remove("d-none");
    button.addEventListener("click", () => {
      const prefix = button.dataset.clearScale + "_";
      form.querySelectorAll(`input[type=radio][value=""]`).forEach((radio) => {
        if (radio.name.startsWith(prefix)) radio.checked = true;
      });
      refresh();
    });
  });
})();
