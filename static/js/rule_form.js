// The rule editor works without JavaScript. Here, only conveniences: the error summary takes
// the focus after a refused save, typing in the rows or in the JSON chooses which of the two
// is saved, and picking a fact puts what its value may be in the value box's placeholder.
(function () {
  "use strict";
  // After a refused save, the summary of what to correct takes the focus (and is read).
  document.querySelector("[data-error-summary]")?.focus();
  const form = document.querySelector("form[data-rule-form]");
  if (!form) return;
  const choose = (value) => {
    const radio = form.querySelector(`input[name=cases_from][value=${value}]`);
    if (radio) radio.checked = true;
  };
  const rows = form.querySelector("[data-case-rows]");
  if (rows) rows.addEventListener("input", () => choose("rows"));
  const json = form.querySelector("textarea[name=test_cases]");
  if (json) json.addEventListener("input", () => choose("json"));
  const hints = JSON.parse(document.getElementById("fact-hints")?.textContent || "{}");
  const hint = (select) => {
    const value = select.closest("[data-fact-row]")?.querySelector("input");
    if (value) value.placeholder = hints[select.value] || "";
  };
  form.querySelectorAll("[data-fact-row] select").forEach((select) => {
    hint(select);
    select.addEventListener("change", () => hint(select));
  });
})();
