// Small page behaviours, declared by data attributes: the Content-Security-Policy allows
// scripts from /static only, so templates carry no inline script or on* handlers.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("[data-submit-on-change]") && el.form) el.form.submit();
  if (el.matches("[data-check-all]")) {
    document.querySelectorAll(`input[name="${el.dataset.checkAll}"]`)
      .forEach((box) => { box.checked = el.checked; });
  }
});

// Unit picker (templates/_unit_picker.html): a suggestion fills the field with its code and
// names the unit beside it; Escape or a click elsewhere closes the list.
function closeUnitChoices(picker) {
  const list = picker.querySelector(".unit-choices");
  if (list) list.replaceChildren();
  const input = picker.querySelector("[data-unit-input]");
  if (input) input.setAttribute("aria-expanded", "false");
}
document.addEventListener("click", (event) => {
  const pick = event.target.closest("[data-unit-pick]");
  if (pick) {
    const picker = pick.closest("[data-unit-picker]");
    const input = picker.querySelector("[data-unit-input]");
    input.value = pick.dataset.unitPick;
    picker.querySelector(".unit-chosen").textContent = pick.dataset.unitName;
    closeUnitChoices(picker);
    input.dispatchEvent(new Event("change", { bubbles: true }));
    return;
  }
  document.querySelectorAll("[data-unit-picker]").forEach((picker) => {
    if (!picker.contains(event.target)) closeUnitChoices(picker);
  });
});
document.addEventListener("keydown", (event) => {
  const picker = event.target.closest && event.target.closest("[data-unit-picker]");
  if (!picker) return;
  if (event.key === "Escape") closeUnitChoices(picker);
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  // Arrow keys walk from the field through the suggestions and their "below" links.
  const items = [picker.querySelector("[data-unit-input]"),
    ...picker.querySelectorAll(".unit-choices button, .unit-choices a")];
  const at = items.indexOf(document.activeElement);
  const next = items[at + (event.key === "ArrowDown" ? 1 : -1)];
  if (at >= 0 && next) { next.focus(); event.preventDefault(); }
});
document.addEventListener("input", (event) => {
  if (event.target.matches("[data-unit-input]")) {
    event.target.closest("[data-unit-picker]").querySelector(".unit-chosen").textContent = "";
  }
});
document.addEventListener("htmx:afterSwap", (event) => {
  const picker = event.target.closest && event.target.closest("[data-unit-picker]");
  const input = picker && picker.querySelector("[data-unit-input]");
  if (input) input.setAttribute("aria-expanded", "true");
});
