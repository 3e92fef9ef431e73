// The live panel is htmx's: a change anywhere in the form posts it to the live address,
// and the server renders the totals (and, for an assessment, the derived facts) (hx-post
// on the form). Here: the "Clear" buttons of each scale, and hiding the no-JavaScript
// "Update totals…" button.
(function () {
  "use strict";
  const form = document.querySelector("form[data-scores-url]");
  if (!form) return;
  form.querySelectorAll("[data-no-js]").forEach((el) => el.classList.add("d-none"));
  form.querySelectorAll("[data-clear-scale]").forEach((button) => {
    button.classList.remove("d-none");
    button.addEventListener("click", () => {
      const prefix = button.dataset.clearScale + "_";
      form.querySelectorAll(`input[type=radio][value=""]`).forEach((radio) => {
        if (radio.name.startsWith(prefix)) radio.checked = true;
      });
      form.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });
})();
