// The rule editor works without JavaScript. Here, only conveniences: the error summary takes
// the focus after a refused save, typing in the rows or in the JSON chooses which of the two
// is saved, picking a fact puts what its value may be in the value box's placeholder, and
// "Add a fact" gives a case one more fact row in place (without it, "More rows" reloads).
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
  const follow = (select) => {
    hint(select);
    select.addEventListener("change", () => hint(select));
  };
  form.querySelectorAll("[data-fact-row] select").forEach(follow);
  // Each case's facts are a formset of their own: a new row takes the next index, and the
  // count the server reads (TOTAL_FORMS) goes up by one.
  form.querySelectorAll("[data-add-fact]").forEach((button) => {
    const cell = button.closest("td");
    const template = cell.querySelector("template[data-empty-fact]");
    const total = cell.querySelector("input[name$='-facts-TOTAL_FORMS']");
    const most = Number(cell.querySelector("input[name$='-facts-MAX_NUM_FORMS']")?.value);
    if (!template || !total) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      const index = Number(total.value);
      if (most && index >= most) return;
      const html = template.innerHTML
        .replaceAll("__prefix__", String(index))
        .replaceAll("fact new", `fact ${index + 1}`);
      button.insertAdjacentHTML("beforebegin", html);
      total.value = String(index + 1);
      const select = button.previousElementSibling.querySelector("select");
      follow(select);
      select.focus();
      choose("rows");
    });
  });
})();
